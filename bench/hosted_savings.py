"""Where editforge's retries save money: cost per kept example against a naive pipeline, priced, against the
fake Gemini server (editforge.testing.fake_gemini) through the real google-genai SDK — no kill, no crash.

    python bench/hosted_savings.py            # 24 photos × 3 types (about 4 minutes on 2 busy cores)
    python bench/hosted_savings.py --quick    # 10 photos × 3 types
    python bench/hosted_savings.py --json figures.json

Three `editforge run`s on the same photos, each against a fresh fake with the same seed (the same request
gets the same answer, or fault, in every run):

    naive      every attempt goes to the paid judge (judge_prefilter: false), plain three tries
               (smart_retries: false), every planned task run
    shipped    the defaults: the metric prefilter; a retry is told why the judge rejected the last attempt;
               no third attempt after two that failed the same way
    target     shipped, plus a mix target (`targets: {sft: N}`, N = 3/4 of what naive kept): a type far
               below the others' pass rate in this run waits until the target cannot fill without it

The plan mixes the types the fake's classical editor really does with HARD types it cannot do (its
editor answers text, no image, as a real model does for an edit it refuses or fails at): a real run meets
such types (Pico-Banana's paper reports 0.59 to 0.93 pass rates by type). Every figure is a ratio to the
naive run of the same invocation; dollars are context.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import machine_info, make_small_photos
from _hosted_common import KEY, gemini_roles, ledger_stats, log, offline_types, run_cli, write_config

from editforge import taxonomy
from editforge.testing.fake_gemini import FakeGemini

EDITOR_FAULTS = {"unchanged": 0.08, "blank": 0.07}  # as bench/hosted.py's price part
EDITOR_MISS = 0.10
HARD_TYPES = 3  # types the fake cannot do, in a plan of the 13 it can
# Two calls in flight per model (every run alike): a run of a few dozen tasks then has, like a large run,
# more tasks than it runs at once, so what finished first can inform what starts next.
CONCURRENCY = 2
VARIANTS = {"full": {"photos": 24, "per_photo": 3}, "quick": {"photos": 10, "per_photo": 3}}


def hard_types() -> list[str]:
    doable = set(offline_types())
    return [t.key for t in taxonomy.all_types() if t.key not in doable and t.needs is None][:HARD_TYPES]


def one_run(tmp: Path, photos: Path, name: str, per_photo: int, **settings: Any) -> dict[str, Any]:
    config = write_config(
        tmp / f"{name}.yaml", images=photos, out=tmp / name, per_photo=per_photo,
        edit_types=offline_types() + hard_types(), seed=3, workers=2, roles=gemini_roles(),
        limits={m: {"concurrency": CONCURRENCY} for m in ("gemini-2.5-flash", "gemini-2.5-flash-image",
                                                          "gemini-2.5-pro")}, **settings,
    )  # fmt: skip
    server = FakeGemini(
        api_key=KEY, latency_s=(0.05, 0.15), fault_rates=EDITOR_FAULTS, editor_miss_rate=EDITOR_MISS, seed=3
    )
    with server:
        run_cli(config, server, tmp / f"{name}.log")
        errors = list(server.errors)
    stats = ledger_stats(tmp / name)
    db = sqlite3.connect(f"file:{tmp / name / 'ledger.sqlite'}?mode=ro", uri=True)
    try:
        stopped = db.execute("SELECT COUNT(*) FROM tasks WHERE reason LIKE '%failed the same way%'").fetchone()[0]
        told = db.execute("SELECT COUNT(*) FROM attempts WHERE json_extract(json, '$.feedback') IS NOT NULL")
        told = told.fetchone()[0]
        hard = db.execute(
            f"SELECT COUNT(*) FROM tasks WHERE status != 'planned' AND edit_type IN ({','.join('?' * HARD_TYPES)})",
            hard_types(),
        ).fetchone()[0]
    finally:
        db.close()
    return {
        "cost_usd": stats.cost_usd,
        "sft_rows": stats.sft_rows,
        "cost_per_kept": stats.cost_usd / stats.sft_rows if stats.sft_rows else None,
        "tasks": stats.tasks,
        "editor_calls": stats.calls_by_role.get("editor", 0),
        "judge_calls": stats.calls_by_role.get("judge", 0),
        "stopped_same_failure": stopped,
        "attempts_told_why": told,
        "hard_type_tasks_run": hard,
        "fake_errors": errors,
    }


def measure(tmp: Path, v: dict[str, int]) -> dict[str, Any]:
    photos = tmp / "photos"
    make_small_photos(photos, v["photos"], side=128, seed=3)
    per = v["per_photo"]
    log(f"naive and shipped runs, {v['photos']} photos × {per} types, hard types {hard_types()}")
    with ThreadPoolExecutor(2) as pool:
        naive_job = pool.submit(one_run, tmp, photos, "naive", per, judge_prefilter=False, smart_retries=False)
        shipped_job = pool.submit(one_run, tmp, photos, "shipped", per)
        naive, shipped = naive_job.result(), shipped_job.result()
    wanted = max(1, round(0.75 * naive["sft_rows"]))
    log(f"target run: sft {wanted}")
    target = one_run(tmp, photos, "target", per, targets={"sft": wanted})
    target["target_sft"] = wanted
    return {
        "naive": naive,
        "shipped": shipped,
        "target": target,
        "ratio_shipped": shipped["cost_per_kept"] / naive["cost_per_kept"],
        "ratio_target": target["cost_per_kept"] / naive["cost_per_kept"],
    }


def report(f: dict[str, Any]) -> list[str]:
    m = f["machine"]
    runs = ("naive", "shipped", "target")
    rows = [
        ("spent (ledger calls.cost_usd)", "cost_usd", "${:.3f}"),
        ("SFT rows kept", "sft_rows", "{}"),
        ("cost per kept example", "cost_per_kept", "${:.4f}"),
        ("editor calls", "editor_calls", "{}"),
        ("paid judge calls", "judge_calls", "{}"),
        ("tasks stopped after two same failures", "stopped_same_failure", "{}"),
        ("attempts told the judge's reason", "attempts_told_why", "{}"),
        ("tasks of the hard types run", "hard_type_tasks_run", "{}"),
    ]
    out = [
        f"editforge retry savings ({f['variant']}), against the fake Gemini server",
        f"machine: {m['cpu_model']}, {m['cpus_usable']} cores, {m['ram_gib']} GiB RAM, Python {m['python']}",
        f"   {'':42}" + "".join(f"{r:>12}" for r in runs),
    ]
    out += [f"   {label:42}" + "".join(f"{fmt.format(f[r][k]):>12}" for r in runs) for label, k, fmt in rows]
    out += [
        f"   target run: sft target {f['target']['target_sft']}",
        f"   cost per kept example / naive: shipped {f['ratio_shipped']:.2f}, with a target {f['ratio_target']:.2f}",
    ]
    errors = [e for r in runs for e in f[r]["fake_errors"]]
    if errors:
        out.append(f"WARNING: the fake failed itself {len(errors)} times: {errors[:3]}")
    out.append(f"benchmark wall time {f['bench_wall_s']:.0f} s (context only)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    variant = "quick" if args.quick else "full"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="editforge-savings-") as name:
        figures = {"variant": variant, "machine": machine_info(), **measure(Path(name), VARIANTS[variant])}
    figures["bench_wall_s"] = time.monotonic() - started
    print("\n".join(report(figures)))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
