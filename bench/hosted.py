"""Hosted-backends benchmark: rate-limit throughput, kill and resume, cost per kept example — against the fake
Gemini server (editforge.testing.fake_gemini) on this machine, through the real google-genai SDK.

    python bench/hosted.py            # the full variant (about 4 minutes on 2 cores)
    python bench/hosted.py --quick    # a smaller one (about a minute)
    python bench/hosted.py --json figures.json

Every result is a ratio (against the server's limit, or a baseline run in the same invocation) or a count
that must be zero; absolute times are printed as context only. What each figure means and how it is taken:
docs/benchmarks-hosted.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import machine_info, make_small_photos
from _hosted_common import (
    KEY,
    attempt_outcomes,
    cumulative_costs,
    gemini_roles,
    hosted_calls,
    kill_after,
    ledger_stats,
    log,
    offline_types,
    paid_count,
    quota_allowance,
    run_cli,
    steady_rate,
    write_config,
)
from _hosted_report import report

from editforge.testing.fake_gemini import FakeGemini

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

RPM = 600  # the quota: server-side and client-side alike
ONE_MODEL = "gemini-2.5-flash"  # part 1: every role on one model, so one quota is the bottleneck
TRANSIENT = {"429": 0.034, "500": 0.033, "503": 0.033}  # 10% of requests, whatever the role
EDITOR_FAULTS = {"unchanged": 0.08, "blank": 0.07}  # of editor requests only (role faults)
EDITOR_MISS = 0.10  # the classical editor's own weak / flawed edits
GRACE_S = 0.6  # after a SIGKILL, for the server's handlers in flight (latency ≤ 0.4 s) to finish
THINK_TOKENS = 1000  # a modelled 2.5 Pro judge's thinking tokens per call (the fake bills none)

VARIANTS = {
    # photos of ~128 px; tasks = photos × per_photo; each task makes ~4 to 5 calls
    "full": {"rate_photos": 48, "capacity_photos": 20, "kill_photos": 24, "kills": (0.35, 0.7),
             "price_photos": 24, "per_photo": 3, "unlimited_client": True},
    "quick": {"rate_photos": 10, "capacity_photos": 6, "kill_photos": 8, "kills": (0.5,),
              "price_photos": 8, "per_photo": 3, "unlimited_client": False},
}  # fmt: skip


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- 1. rate-limit throughput ------------------------------------------------------------------------------
def rate_run(
    tmp: Path, photos: Path, name: str, per_photo: int, rpm: float | None, faults: bool, client: bool = True
) -> dict[str, Any]:
    """One run with every role on ONE_MODEL, the server enforcing `rpm` and (`client`) the run's limits too."""
    server = FakeGemini(
        api_key=KEY,
        latency_s=(0.2, 0.5),
        rate_limit_rpm=rpm,
        fault_rates=TRANSIENT if faults else None,
        seed=11,
    )
    limits = {ONE_MODEL: {"concurrency": 32, **({"rpm": rpm} if rpm and client else {})}}
    config = write_config(
        tmp / f"{name}.yaml",
        images=photos,
        out=tmp / name,
        per_photo=per_photo,
        edit_types=offline_types(),
        seed=1,
        workers=2,
        roles=gemini_roles(ONE_MODEL),
        limits=limits,
    )
    cpu0 = self_cpu()
    with server:
        run = run_cli(config, server, tmp / f"{name}.log")
        calls = list(server.calls)
        errors = list(server.errors)
    cpu = self_cpu() - cpu0 + run.cpu_s
    stats = ledger_stats(tmp / name)
    accepted = [c for c in calls if c.fault != "rate_limit"]  # past the server's quota check
    rate = steady_rate(accepted)
    start, end = rate.start, rate.end
    ok_in_window = sum(1 for c in accepted if c.status == 200 and start <= c.arrived < end)
    allowed = quota_allowance(accepted, rpm, 1.0, start, end) if rpm else None
    rejected = [c for c in calls if c.fault == "rate_limit"]
    return {
        "rpm_limit": rpm,
        "requests": len(calls),
        "accepted": len(accepted),
        "ok_200": sum(1 for c in calls if c.status == 200),
        "injected_faults": sum(1 for c in calls if c.fault in TRANSIENT),
        "rate_limited_429": len(rejected),
        "rate_limited_in_window": sum(1 for c in rejected if start <= c.arrived < end),
        "steady_rpm": rate.per_min,
        "steady_ok_rpm": ok_in_window / rate.window_s * 60,
        "steady_window_s": rate.window_s,
        "mean_in_flight": rate.mean_in_flight,
        "fraction_of_limit": rate.per_min / rpm if rpm else None,
        "fraction_of_allowance": rate.requests / allowed if allowed else None,  # burst held at the start too
        "tasks": stats.total_tasks,
        "tasks_lost": stats.lost,
        "task_status": stats.tasks,
        "calls_per_task": stats.calls_total / max(1, stats.total_tasks),
        "wall_s": run.wall_s,
        "cpu_busy": cpu / (run.wall_s * CORES),  # of all cores: the fake, the run, its worker processes
        "fake_errors": errors,
    }


def part_rate(tmp: Path, v: dict[str, Any]) -> dict[str, Any]:
    photos, few = tmp / "photos-rate", tmp / "photos-capacity"
    make_small_photos(photos, v["rate_photos"], side=128, seed=1)
    make_small_photos(few, v["capacity_photos"], side=128, seed=1)
    log(f"1. capacity baseline: {v['capacity_photos']} photos, no limit anywhere, concurrency 32")
    capacity = rate_run(tmp, few, "capacity", v["per_photo"], None, False)
    capacity["headroom"] = capacity["steady_rpm"] / RPM  # what this machine could do with no quota
    log(f"1. rate limit {RPM} rpm, no faults: {v['rate_photos']} photos × {v['per_photo']} types")
    clean = rate_run(tmp, photos, "rate-clean", v["per_photo"], RPM, False)
    log("1. rate limit, 10% transient errors")
    faulty = rate_run(tmp, photos, "rate-faults", v["per_photo"], RPM, True)
    figures = {"capacity": capacity, "clean": clean, "faults": faulty}
    if v["unlimited_client"]:  # not a goal: what happens with no `rpm` in `limits` (the default)
        log(f"1. the same quota, no rpm in the client's limits: {v['capacity_photos']} photos")
        figures["no_client_rpm"] = rate_run(tmp, few, "rate-no-client-rpm", v["per_photo"], RPM, False, False)
    return figures


# -- 2. kill and resume ------------------------------------------------------------------------------------
def part_kill(tmp: Path, v: dict[str, Any], calls_per_task: float) -> dict[str, Any]:
    """A run SIGKILLed (its whole process group) at set points, then run to the end; nothing paid twice."""
    photos = tmp / "photos-kill"
    make_small_photos(photos, v["kill_photos"], side=128, seed=2)
    tasks = v["kill_photos"] * v["per_photo"]
    expected = tasks * calls_per_task  # 200 answers a whole run needs, from part 1's runs
    server = FakeGemini(api_key=KEY, latency_s=(0.1, 0.4), fault_rates={"429": 0.02, "503": 0.03}, seed=5)
    config = write_config(
        tmp / "kill.yaml",
        images=photos,
        out=tmp / "kill",
        per_photo=v["per_photo"],
        edit_types=offline_types(),
        seed=2,
        workers=2,
        roles=gemini_roles(),  # Pico-Banana's models, the shipped limits (8 calls in flight per model)
    )
    kills: list[dict[str, Any]] = []
    rng = random.Random(7)
    gap, since = 0, 0.0  # answers billed but never committed so far; the previous kill's time
    with server:
        for share in v["kills"]:
            target, delay = round(share * expected), rng.uniform(0.0, 0.3)
            log(f"2. SIGKILL the run's process group {delay * 1000:.0f} ms after the server's {target}th answer")
            run = run_cli(config, server, tmp / "kill.log", kill_when=kill_after(server, target, delay))
            if run.killed_at is None:
                raise RuntimeError("the run finished before the kill: raise kill_photos")
            time.sleep(GRACE_S)  # calls in flight at the kill end (499: client gone) before the count
            answered, committed = paid_count(server), hosted_calls(tmp / "kill")
            kills.append(
                {
                    "at_share": share,
                    "answered_200": answered,  # so far, all runs
                    "committed": committed,  # rows in the ledger
                    "answered_not_committed": answered - committed - gap,  # billed; never landed in the ledger
                    "undelivered": sum(1 for c in server.calls if since < c.arrived and c.status in (0, 499)),
                    "span": (since + GRACE_S, run.killed_at),
                }
            )
            gap, since = answered - committed, run.killed_at
        log("2. the same command again, to the end")
        run_cli(config, server, tmp / "kill.log")
        calls = list(server.calls)
        extra = sum(n - 1 for n in server.paid.values() if n > 1)
        twice = server.paid_twice()
        errors = list(server.errors)
    first_answer: dict[tuple[str, str], float] = {}
    for c in calls:
        if c.status == 200:
            first_answer.setdefault((c.model, c.digest), c.answered)
    for kill in kills:  # how long before the kill the answers bought again had arrived: the commit window
        start, end = kill.pop("span")  # (an answer sent a few ms after the SIGKILL, its socket not yet closed,
        ages = [end - first_answer[k] for k in twice if start < first_answer[k] <= end + GRACE_S]  # counts too)
        kill["oldest_uncommitted_ms"] = max(0, round(max(ages) * 1000)) if ages else None
    stats = ledger_stats(tmp / "kill")
    undelivered = [c for c in calls if c.status in (0, 499)]  # answered after the client had died
    return {
        "tasks_planned": tasks,
        "tasks": stats.total_tasks,
        "tasks_lost": stats.lost + (tasks - stats.total_tasks),
        "task_status": stats.tasks,
        "kills": kills,
        "requests": len(calls),
        "ok_200": sum(1 for c in calls if c.status == 200),
        "distinct_contents": len({(c.model, c.digest) for c in calls}),
        "injected_faults": sum(1 for c in calls if c.fault),
        "undelivered_at_kill": len(undelivered),
        "paid_twice": len(twice),
        "paid_extra": extra,  # 200 answers beyond the first for the same content
        "answered_not_committed": sum(k["answered_not_committed"] for k in kills),
        "rebought_after_commit": max(0, extra - sum(k["answered_not_committed"] for k in kills)),
        "sft_rows": stats.sft_rows,
        "sft_duplicates": stats.sft_rows - stats.sft_unique,
        "fake_errors": errors,
    }


# -- 3. cost per kept example: editforge against a naive pipeline -----------------------------------------
def priced_server() -> FakeGemini:
    """A fresh server per run, same seed: the same request gets the same answer (or fault) in every run."""
    return FakeGemini(
        api_key=KEY, latency_s=(0.05, 0.15), fault_rates=EDITOR_FAULTS, editor_miss_rate=EDITOR_MISS, seed=3
    )


def priced_run(
    tmp: Path, photos: Path, name: str, per_photo: int, prefilter: bool, kill: tuple[int, float] | None = None
) -> tuple[Path, int, list[str]]:
    """One `editforge run` with Pico-Banana's models and prices: (run dir, 200 answers, the fake's failures)."""
    config = write_config(
        tmp / f"{name}.yaml",
        images=photos,
        out=tmp / name,
        per_photo=per_photo,
        edit_types=offline_types(),
        seed=3,
        workers=2,
        roles=gemini_roles(),
        judge_prefilter=prefilter,
        smart_retries=prefilter,  # the naive pipeline (prefilter off) retries plainly, three times
    )
    server = priced_server()
    with server:
        when = kill_after(server, *kill) if kill else None
        run = run_cli(config, server, tmp / f"{name}.log", kill_when=when)
        if kill and run.killed_at is None:
            raise RuntimeError(f"{name} finished before the kill: raise price_photos")
        if kill:
            time.sleep(GRACE_S)
        return tmp / name, paid_count(server), list(server.errors)


def in_parallel(*jobs: Any) -> list[Any]:
    with ThreadPoolExecutor(len(jobs)) as pool:
        return [f.result() for f in [pool.submit(*job) for job in jobs]]


def pipeline_figures(cost: float, rows: int, stats: Any, answered: int) -> dict[str, Any]:
    return {
        "cost_usd": cost,
        "sft_rows": rows,
        "cost_per_kept": cost / rows if rows else None,
        "answered_200": answered,
        "judge_calls": stats.calls_by_role.get("judge", 0),
        "editor_calls": stats.calls_by_role.get("editor", 0),
        "cost_by_role": stats.cost_by_role,
        "verdicts_by_judge": stats.verdicts_by_judge,
    }


def part_price(tmp: Path, v: dict[str, Any]) -> dict[str, Any]:
    photos = tmp / "photos-price"
    make_small_photos(photos, v["price_photos"], side=128, seed=3)
    per_photo = v["per_photo"]
    log(f"3. uninterrupted runs, prefilter on and off: {v['price_photos']} photos × {per_photo} types")
    (a0, a0_paid, e1), (b0, b0_paid, e2) = in_parallel(
        (priced_run, tmp, photos, "price-a0", per_photo, True),
        (priced_run, tmp, photos, "price-b0", per_photo, False),
    )
    a0s, b0s = ledger_stats(a0), ledger_stats(b0)
    rng = random.Random(3)
    kill_a, kill_b = (a0_paid // 2, rng.uniform(0, 0.3)), (b0_paid // 2, rng.uniform(0, 0.3))
    log("3. killed mid-run: editforge resumes its run; the naive pipeline starts again in a fresh directory")
    (_, a1_paid, e3), (b1, b1_paid, e4) = in_parallel(
        (priced_run, tmp, photos, "price-a", per_photo, True, kill_a),
        (priced_run, tmp, photos, "price-b-killed", per_photo, False, kill_b),
    )
    b_killed = ledger_stats(b1)
    (a2, a2_paid, e5), (b2, b2_paid, e6) = in_parallel(
        (priced_run, tmp, photos, "price-a", per_photo, True),
        (priced_run, tmp, photos, "price-b", per_photo, False),
    )
    a, b = ledger_stats(a2), ledger_stats(b2)
    ours = pipeline_figures(a.cost_usd, a.sft_rows, a, a1_paid + a2_paid)
    naive = pipeline_figures(b_killed.cost_usd + b.cost_usd, b.sft_rows, b, b1_paid + b2_paid)
    naive["cost_before_kill_usd"] = b_killed.cost_usd
    naive["judge_calls"] += b_killed.calls_by_role.get("judge", 0)
    naive["editor_calls"] += b_killed.calls_by_role.get("editor", 0)
    naive["cost_by_role"] = {r: c + b_killed.cost_by_role.get(r, 0.0) for r, c in b.cost_by_role.items()}
    outcomes = attempt_outcomes(a0)

    # What the ratio would be for a kill at other points (0: no kill), from the uninterrupted runs' spend.
    curve = cumulative_costs(b0)
    sensitivity = {}
    for share in (0.0, 0.25, 0.5, 0.75, 0.9):
        before = curve[max(0, round(share * len(curve)) - 1)] if share else 0.0
        sensitivity[f"{share:.2f}"] = (a0s.cost_usd / a0s.sft_rows) / ((b0s.cost_usd + before) / b0s.sft_rows)
    # A judge that bills thinking tokens (2.5 Pro does; the fake bills none): +THINK output tokens a call.
    think = THINK_TOKENS * 10.0 / 1e6  # gemini-2.5-pro output, USD per token × tokens
    thinking_ratio = ((ours["cost_usd"] + think * ours["judge_calls"]) / ours["sft_rows"]) / (
        (naive["cost_usd"] + think * naive["judge_calls"]) / naive["sft_rows"]
    )
    return {
        "edit_outcomes": outcomes,
        "failed_edit_share": 1 - outcomes["passed"] / max(1, outcomes["attempts"]),
        "editforge": ours,
        "naive": naive,
        "ratio": ours["cost_per_kept"] / naive["cost_per_kept"],
        "uninterrupted": {
            "editforge": pipeline_figures(a0s.cost_usd, a0s.sft_rows, a0s, a0_paid),
            "naive": pipeline_figures(b0s.cost_usd, b0s.sft_rows, b0s, b0_paid),
        },
        "ratio_if_killed_at": sensitivity,
        "ratio_with_judge_thinking": thinking_ratio,
        "tasks_lost": a.lost + b.lost,
        "fake_errors": e1 + e2 + e3 + e4 + e5 + e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--parts", default="rate,kill,price")
    args = parser.parse_args()
    v = VARIANTS["quick" if args.quick else "full"]
    figures: dict[str, Any] = {"variant": "quick" if args.quick else "full", "machine": machine_info()}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="editforge-hosted-") as name:
        tmp = Path(name)
        parts = args.parts.split(",")
        if "rate" in parts:
            figures["rate"] = part_rate(tmp, v)
        calls_per_task = figures.get("rate", {}).get("clean", {}).get("calls_per_task", 4.3)
        if "kill" in parts:
            figures["kill"] = part_kill(tmp, v, calls_per_task)
        if "price" in parts:
            figures["price"] = part_price(tmp, v)
    figures["bench_wall_s"] = time.monotonic() - started
    print("\n".join(report(figures, RPM, THINK_TOKENS)))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
