"""Load test (issue 6): N tasks against the fake Gemini server with ~5% transient errors and 1 s latency —
does the run finish with bounded memory and every task accounted for?

    python bench/load.py                   # 10,000 tasks
    python bench/load.py --quick           # 1,000 tasks (a few minutes)
    python bench/load.py --tasks 3000 --json load.json

The fake server (editforge.testing.fake_gemini) runs in this process; editforge runs as a subprocess,
`python -m editforge run CONFIG.yaml -q`, every role on Gemini, pointed at the fake. Once a second the
benchmark reads the resident memory (VmRSS, /proc) of the run's whole process group — the runner and its
worker processes — and, read-only, the ledger's task counts. Results are counts that must be zero and ratios
(memory late in the run over memory early on; throughput over the bound concurrency / latency); seconds are
context only. What each figure means: docs/reliability-load.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from _common import LARGE_SOURCES, load_sample, machine_info
from _hosted_common import DONE, KEY, gemini_roles, log, offline_types, write_config
from _sampled_run import MIB, Invocation, Sample, ledger_figures, run_sampled
from PIL import Image

from editforge.testing.fake_gemini import FakeGemini

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
LATENCY_S = 1.0
FAULTS = {"429": 0.0125, "500": 0.0125, "503": 0.0125, "drop": 0.0125}  # 5% of requests, any role
SEED = 6
PER_PHOTO = 4
CONCURRENCY = 128  # per model, client side
MODELS = ("gemini-2.5-flash", "gemini-2.5-flash-image", "gemini-2.5-pro")
GROWTH_LIMIT = 1.10  # "bounded": the runner's RSS late in the run is at most this × its RSS early on


# -- photos -------------------------------------------------------------------------------------------------
def make_photos(folder: Path, count: int, seed: int = SEED) -> int:
    """`count` distinct PNGs of 64–96 px: random crops, tints and flips of scikit-image's sample photos."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sources = [load_sample(n) for n in LARGE_SOURCES[:8]]
    for i in range(count):
        src = sources[i % len(sources)]
        h, w = src.shape[:2]
        frac = rng.uniform(0.3, 0.9)
        ch, cw = int(h * frac), int(w * frac)
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = src[y : y + ch, x : x + cw].astype(np.float32) * rng.uniform(0.8, 1.2, 3)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        if rng.random() < 0.3:
            crop = crop[::-1]
        img = Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8))
        side = int(rng.integers(64, 97))
        img.thumbnail((side, side), Image.Resampling.LANCZOS)
        img.save(folder / f"p{i:05d}.png")
    return count


# -- figures -------------------------------------------------------------------------------------------------
def memory_figures(samples: list[Sample], tasks: int) -> dict[str, Any]:
    """RSS through the run: at 10/50/100% of the tasks done, per tenth of the tasks, and its growth."""
    running = [s for s in samples if s.done < tasks]  # before the last task: the steady loop (not the export)
    at: dict[str, Any] = {}
    for share in (0.1, 0.5, 1.0):
        first = next((s for s in samples if s.done >= share * tasks), None)
        if first is not None:
            at[f"{share:.0%}"] = {
                "t_s": first.t,
                "done": first.done,
                "rss_total_mib": first.rss_total / MIB,
                "rss_runner_mib": first.rss_runner / MIB,
                "runner_peak_so_far_mib": first.hwm_runner / MIB,
            }
    step = max(1, math.ceil(tasks / 10))
    bins = []
    for lo in range(0, tasks, step):
        inside = [s for s in samples if lo <= s.done < lo + step]
        if inside:
            bins.append(
                {
                    "tasks": f"{lo}-{min(tasks, lo + step)}",
                    "samples": len(inside),
                    "peak_total_mib": max(s.rss_total for s in inside) / MIB,
                    "peak_runner_mib": max(s.rss_runner for s in inside) / MIB,
                    "peak_workers_mib": max(s.rss_workers for s in inside) / MIB,
                    "max_runner_threads": max(s.runner_threads for s in inside),
                }
            )
    early = [s for s in running if 0.1 * tasks <= s.done < 0.3 * tasks]
    late = [s for s in running if s.done >= 0.8 * tasks]
    fit = [s for s in running if s.done >= 0.1 * tasks]
    slope = None
    if len(fit) >= 5 and len({s.done for s in fit}) > 1:
        x = np.array([s.done for s in fit], dtype=float)
        y = np.array([s.rss_runner for s in fit], dtype=float) / MIB
        slope = float(np.polyfit(x, y, 1)[0] * 1000)  # MiB per 1,000 tasks done
    ratio = None
    if early and late:
        ratio = max(s.rss_total for s in late) / max(s.rss_total for s in early)
    return {
        "peak_total_mib": max((s.rss_total for s in samples), default=0) / MIB,
        "peak_total_while_running_mib": max((s.rss_total for s in running), default=0) / MIB,
        "peak_runner_hwm_mib": max((s.hwm_runner for s in samples), default=0) / MIB,
        "at_progress": at,
        "per_tenth": bins,
        "late_over_early": ratio,  # peak RSS at 80-100% of the tasks over peak at 10-30%
        "runner_slope_mib_per_1000_tasks": slope,
        "bounded": ratio is not None and ratio <= GROWTH_LIMIT,
    }


def steady_window(samples: list[Sample], tasks: int) -> tuple[float, float, int] | None:
    """(start, end) in run seconds and tasks done between 10% and 90% of the tasks."""
    a = next((s for s in samples if s.done >= 0.1 * tasks), None)
    b = next((s for s in samples if s.done >= 0.9 * tasks), None)
    if a is None or b is None or b.t <= a.t:
        return None
    return a.t, b.t, b.done - a.done


def throughput_figures(server: FakeGemini, run: Invocation, t0: float, tasks: int) -> dict[str, Any]:
    """Tasks/s and calls in flight per model in the steady window, against concurrency / latency."""
    window = steady_window(run.samples, tasks)
    calls = list(server.calls)
    per_model = Counter(c.model for c in calls)
    requests_per_task = {m: per_model[m] / tasks for m in MODELS}
    # The bound: every model's CONCURRENCY calls in flight for LATENCY_S each; the busiest model per task sets it.
    bound = min(CONCURRENCY / (LATENCY_S * k) for k in requests_per_task.values() if k)
    out: dict[str, Any] = {
        "requests_per_task": requests_per_task,
        "bound_tasks_per_s": bound,
        "bottleneck_model": max(requests_per_task, key=lambda m: requests_per_task[m]),
    }
    if window is None:
        return out
    start, end, done = window
    lo, hi = t0 + start, t0 + end
    span = hi - lo
    in_flight = {}
    for m in MODELS:
        busy = sum(
            max(0.0, min(c.answered or hi, hi) - max(c.arrived, lo)) for c in calls if c.model == m and c.arrived < hi
        )
        in_flight[m] = busy / span
    steady = done / span
    # An injected 429 carries Retry-After 1 s: the engine then holds back every new call to that model
    # (engine.calls._ModelLimiter.throttle) — the share of the window each model spent so cooled down.
    cooled = {}
    for m in MODELS:
        spans = sorted((c.answered, c.answered + server.retry_after) for c in calls if c.model == m and c.status == 429)
        total, reach = 0.0, lo
        for a, b in spans:
            a, b = max(a, reach), min(b, hi)
            if b > a:
                total += b - a
                reach = b
        cooled[m] = total / span
    out |= {
        "steady_window_s": span,
        "steady_tasks_per_s": steady,
        "fraction_of_bound": steady / bound,
        "steady_requests_per_s": sum(1 for c in calls if lo <= c.arrived < hi) / span,
        "mean_in_flight": in_flight,
        "fraction_of_concurrency": {m: v / CONCURRENCY for m, v in in_flight.items()},
        "cooldown_share": cooled,
        # Time a request spent at the server: the 1 s latency plus the wait for the fake's one model lock
        # (its offline models answer one request at a time, in this process, under the GIL).
        "mean_server_s": {
            m: float(
                np.mean([c.answered - c.arrived for c in calls if c.model == m and lo <= c.arrived < hi and c.answered])
            )
            for m in MODELS
        },
    }
    return out


def server_figures(server: FakeGemini) -> dict[str, Any]:
    calls = list(server.calls)
    injected = Counter(c.fault for c in calls if c.fault)
    statuses = Counter(c.status for c in calls)
    twice = server.paid_twice()
    roles = {(c.model, c.digest): c.role for c in calls}
    return {
        "requests": len(calls),
        "ok_200": statuses.get(200, 0),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "injected_faults": sum(injected.values()),
        "injected_by_kind": dict(injected),
        "injected_share": sum(injected.values()) / max(1, len(calls)),
        "distinct_contents": len({(c.model, c.digest) for c in calls}),
        "paid_twice": len(twice),
        "paid_extra": sum(server.paid[k] - 1 for k in twice),
        "paid_twice_by_role": dict(Counter(roles[k] for k in twice)),
        "undelivered_499": statuses.get(499, 0),
        "fake_errors": list(server.errors)[:5],
        "fake_error_count": len(server.errors),
    }


# -- the run -----------------------------------------------------------------------------------------------
def load_test(tmp: Path, tasks_wanted: int, per_photo: int, timeout_s: float) -> dict[str, Any]:
    photos = math.ceil(tasks_wanted / per_photo)
    log(f"making {photos} photos of 64-96 px")
    make_photos(tmp / "photos", photos)
    run_dir = tmp / "run"
    config = write_config(
        tmp / "load.yaml",
        images=tmp / "photos",
        out=run_dir,
        per_photo=per_photo,
        edit_types=offline_types(),
        seed=SEED,
        workers=2,
        max_attempts=3,
        roles=gemini_roles(),
        limits={m: {"concurrency": CONCURRENCY} for m in MODELS},
        retries={"max_tries": 8, "base_s": 0.2, "max_wait_s": 2},
    )
    server = FakeGemini(api_key=KEY, latency_s=LATENCY_S, fault_rates=FAULTS, seed=SEED)
    invocations: list[dict[str, Any]] = []
    with server:
        for attempt in (1, 2):
            log(f"run {attempt}: editforge run {config.name} -q ({tasks_wanted} tasks, latency {LATENCY_S:g} s)")
            t0 = time.monotonic()
            run = run_sampled(config, server, run_dir, tmp / "run.log", timeout_s)
            ledger = ledger_figures(run_dir)
            total = sum(ledger["tasks"].values())
            entry = {
                "wall_s": run.wall_s,
                "cpu_s": run.cpu_s,
                "bench_cpu_s": run.bench_cpu_s,
                "cpu_busy": (run.cpu_s + run.bench_cpu_s) / (run.wall_s * CORES),
                "ledger": ledger,
                "memory": memory_figures(run.samples, total),
                "throughput": throughput_figures(server, run, t0, total) if attempt == 1 else None,
                "timeline": [asdict(s) for s in run.samples],
                "stderr_tail": run.stderr_tail[-600:],
            }
            invocations.append(entry)
            planned = ledger["tasks"].get("planned", 0)
            log(f"run {attempt} done in {run.wall_s:.0f} s: {ledger['tasks']}")
            if not planned:
                break
            log(f"{planned} tasks deferred (left planned): the same command again")
        srv = server_figures(server)
    final = invocations[-1]["ledger"]
    total = sum(final["tasks"].values())
    return {
        "tasks_wanted": tasks_wanted,
        "photos_made": photos,
        "per_photo": per_photo,
        "tasks_planned_by_run": total,
        "tasks_accounted": sum(final["tasks"].get(s, 0) for s in DONE),
        "tasks_left_planned": final["tasks"].get("planned", 0),
        "runs": invocations,
        "server": srv,
    }


# -- the table ----------------------------------------------------------------------------------------------
def report(f: dict[str, Any]) -> list[str]:
    m, r = f["machine"], f["load"]
    first = r["runs"][0]
    mem, thr, srv = first["memory"], first["throughput"], r["server"]
    rejudged = r["runs"][-1]["ledger"]["rejudged_identical_edits"]
    other = srv["paid_extra"] - rejudged
    out = [
        f"editforge load test ({f['variant']}): {r['tasks_wanted']} tasks against the fake Gemini server, "
        f"latency {LATENCY_S:g} s, {sum(FAULTS.values()):.0%} transient errors ({', '.join(FAULTS)})",
        f"machine: {m['cpu_model']}, {m['cpus_usable']} cores, {m['ram_gib']} GiB RAM, Python {m['python']}",
        f"photos {r['photos_made']} (64-96 px PNG) × {r['per_photo']} edit types; concurrency {CONCURRENCY} per model; "
        f"retries 8 tries, 0.2 s base, 2 s max; workers 2; max_attempts 3",
        "",
        "every task accounted for",
        f"   tasks in the ledger {r['tasks_planned_by_run']}; passed/failed/error {r['tasks_accounted']}; "
        f"left planned {r['tasks_left_planned']}",
    ]
    for i, run in enumerate(r["runs"], 1):
        led = run["ledger"]
        out.append(
            f"   run {i}: {led['tasks']}; photos {led['photos']} (skipped {led['photos_skipped']}); "
            f"SFT rows {led['sft_rows']} (duplicates {led['sft_duplicates']})"
        )
        if led["error_reasons"]:
            out.append(f"     error reasons: {led['error_reasons']}")
    out += [
        f"   server: {srv['requests']} requests, {srv['ok_200']} answered 200, {srv['injected_faults']} injected "
        f"errors ({srv['injected_share']:.1%}: {srv['injected_by_kind']})",
        f"   paid twice (200 for the same content more than once): {srv['paid_twice']} contents, "
        f"{srv['paid_extra']} extra answers {srv['paid_twice_by_role'] or ''}",
        f"     of them judge requests re-sent for an edit identical to an earlier attempt's: {rejudged}; "
        f"other: {other}",
        f"   answers not delivered (499): {srv['undelivered_499']}; fake's own failures: {srv['fake_error_count']}",
        "",
        "bounded memory (RSS of the run's process group: runner + workers, sampled every second)",
    ]
    for share, a in mem["at_progress"].items():
        out.append(
            f"   at {share:>4} of tasks ({a['done']:>6} done, {a['t_s']:6.0f} s): total {a['rss_total_mib']:6.0f} MiB, "
            f"runner {a['rss_runner_mib']:5.0f} MiB, runner peak so far {a['runner_peak_so_far_mib']:5.0f} MiB"
        )
    out.append(f"   {'tasks done':>14}{'peak total':>12}{'runner':>9}{'workers':>9}{'threads':>9}")
    for b in mem["per_tenth"]:
        out.append(
            f"   {b['tasks']:>14}{b['peak_total_mib']:>12.0f}{b['peak_runner_mib']:>9.0f}"
            f"{b['peak_workers_mib']:>9.0f}{b['max_runner_threads']:>9}"
        )
    slope = mem["runner_slope_mib_per_1000_tasks"]
    out += [
        f"   peak total {mem['peak_total_mib']:.0f} MiB (while tasks ran {mem['peak_total_while_running_mib']:.0f}); "
        f"runner's VmHWM {mem['peak_runner_hwm_mib']:.0f} MiB",
        f"   peak at 80-100% of tasks / peak at 10-30%: {mem['late_over_early']:.3f}; runner RSS slope "
        + (f"{slope:+.2f} MiB per 1,000 tasks" if slope is not None else "n/a"),
        "",
        "throughput (see the doc: on 2 cores the fake server's serialised models are the bottleneck)",
    ]
    if "steady_tasks_per_s" in thr:
        per = ", ".join(f"{k.removeprefix('gemini-2.5-')} {v:.2f}" for k, v in thr["requests_per_task"].items())
        conc = ", ".join(
            f"{k.removeprefix('gemini-2.5-')} {v:.1f} ({thr['fraction_of_concurrency'][k]:.0%})"
            for k, v in thr["mean_in_flight"].items()
        )
        out += [
            f"   requests per task: {per}",
            f"   bound = {CONCURRENCY} / ({LATENCY_S:g} s × requests per task of the busiest model) = "
            f"{thr['bound_tasks_per_s']:.1f} tasks/s",
            f"   steady (10-90% of tasks): {thr['steady_tasks_per_s']:.2f} tasks/s = "
            f"{thr['fraction_of_bound']:.3f} of the bound; {thr['steady_requests_per_s']:.1f} requests/s",
            f"   mean calls in flight at the server (of {CONCURRENCY}): {conc}",
            "   mean time a request spent at the server (latency + waiting for the fake's model lock): "
            + ", ".join(f"{k.removeprefix('gemini-2.5-')} {v:.2f} s" for k, v in thr["mean_server_s"].items()),
            "   share of the window each model was held back by a 429's Retry-After: "
            + ", ".join(f"{k.removeprefix('gemini-2.5-')} {v:.0%}" for k, v in thr["cooldown_share"].items()),
        ]
    out.append(
        f"   CPU busy (run + fake server) {first['cpu_busy']:.0%} of {CORES} cores; "
        f"wall {first['wall_s']:.0f} s (context only)"
    )
    ok_tasks = r["tasks_left_planned"] == 0 and r["tasks_accounted"] == r["tasks_planned_by_run"]
    ok_tasks = ok_tasks and r["tasks_planned_by_run"] >= r["tasks_wanted"] - r["per_photo"] + 1
    out += [
        "",
        "goals:",
        f"   {'met' if ok_tasks else 'NOT met':8} every task accounted for (0 left planned)",
        f"   {'met' if mem['bounded'] else 'NOT met':8} bounded memory (late/early peak ≤ {GROWTH_LIMIT})",
        f"   {'met' if other == 0 else 'NOT met':8} nothing paid twice but identical judge requests "
        f"({srv['paid_extra']} extra answers, {rejudged} of them re-judged identical edits)",
        f"benchmark wall time {f['bench_wall_s']:.0f} s (context only)",
    ]
    if srv["fake_error_count"]:
        out.append(f"WARNING: the fake server failed {srv['fake_error_count']} times: {srv['fake_errors']}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1,000 tasks")
    parser.add_argument("--per-photo", type=int, default=PER_PHOTO)
    parser.add_argument("--timeout", type=float, default=3 * 3600, help="seconds one run may take")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    tasks = 1000 if args.quick else args.tasks
    figures: dict[str, Any] = {"variant": "quick" if args.quick else f"{tasks} tasks", "machine": machine_info()}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="editforge-load-") as name:
        figures["load"] = load_test(Path(name), tasks, args.per_photo, args.timeout)
    figures["bench_wall_s"] = time.monotonic() - started
    print("\n".join(report(figures)))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
