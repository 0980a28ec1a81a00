"""Offline pipeline benchmark: throughput, orchestration overhead, 1→2 worker scaling, memory vs run size.

    python bench/offline_pipeline.py            # the full variant (a few minutes on 2 cores)
    python bench/offline_pipeline.py --quick    # a smaller one (about a minute)
    python bench/offline_pipeline.py --json figures.json

Every result is a ratio against a baseline measured in the same invocation on this machine; absolute
times are printed as context only. What each figure means and how it is taken: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from _common import (
    QuietGate,
    cpu_ceiling,
    machine_info,
    make_large_photos,
    make_small_photos,
    system_busy_s,
    worker_thread_settings,
)
from _offline_pipeline_report import report
from _replay import PIECES, Replay, dispatch_cost, replay_run
from _timed_run import RunResult, run_editforge

GOAL_OVERHEAD = 0.10  # share of the 1-worker wall time outside the work itself, at most
GOAL_SCALING = 1.8  # 1 → 2 workers speed-up, at least
GOAL_MEMORY = 1.2  # peak RSS at 10× the tasks, at most this multiple ("flat")

VARIANTS = {
    # photos ~1024 px × per_photo types; repeats of each timed run; small photos for the memory runs
    "full": {"photos": 10, "per_photo": 4, "repeats": 3, "mem_photos": (25, 250), "mem_side": 128, "seed": 1},
    "quick": {"photos": 4, "per_photo": 4, "repeats": 1, "mem_photos": (5, 50), "mem_side": 128, "seed": 1},
}
# Before each timed step the bench waits for other processes to leave the CPUs alone, at most this long
# in all (a shared machine skews every timing; how busy it was is reported either way).
QUIET_BUDGET_S = {"full": 120.0, "quick": 30.0}
QUIET = 0.2  # cores other processes may use during a timing that is kept
# The order of the steps in each repeat: the 1-worker run stays next to the 2-worker run and the replay.
ORDERS = (("w1", "replay", "w2"), ("replay", "w1", "w2"), ("w2", "w1", "replay"))


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def median(values: list[float]) -> float:
    return statistics.median(values)


def run_dict(result: RunResult) -> dict[str, Any]:
    return asdict(result) | {"cores_busy": result.cores_busy}


def measure(variant: str) -> dict[str, Any]:
    cfg = VARIANTS[variant]
    per_photo, seed, repeats = cfg["per_photo"], cfg["seed"], cfg["repeats"]
    figures: dict[str, Any] = {"variant": variant, "settings": cfg, "machine": machine_info()}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="editforge-bench-") as tmp_name:
        tmp = Path(tmp_name)
        photos = tmp / "photos"
        make_large_photos(photos, cfg["photos"])
        log(f"{cfg['photos']} photos of ~1024 px in {photos}")

        # Warm the file cache and the interpreter's imports, so the first timed run pays no cold start.
        make_large_photos(tmp / "warm-photos", 1)
        run_editforge(tmp / "warm-photos", tmp / "warm", per_photo=1, seed=seed, workers=1)
        figures["worker_threads"] = worker_thread_settings(tmp / "warm")
        gate = QuietGate(QUIET_BUDGET_S[variant])
        gate.wait()
        log("machine ceiling: the same pure-Python burn in 1 process, then 2")
        figures["cpu_ceiling"] = {"start": cpu_ceiling()}

        # Each repeat: a 1-worker run, a 2-worker run and the serial replay of the work, in an order that
        # keeps the 1-worker run next to both of the others (this machine's speed drifts over minutes).
        runs: dict[int, list[RunResult]] = {1: [], 2: []}
        replays: list[Replay] = []
        replay_walls: list[float] = []
        replay_foreign: list[float] = []
        baseline_dir = tmp / "run-w1-0"
        for r in range(repeats):
            order = ORDERS[0] if r == 0 else ORDERS[1 + r % 2]
            for step in order:
                gate.wait()
                if step == "replay":
                    log(f"repeat {r + 1}/{repeats}: the work alone, replayed serially in this process")
                    busy, own, began = system_busy_s(), own_cpu_s(), time.perf_counter()
                    replays.append(replay_run(baseline_dir, photos, tmp / f"replay-{r}"))
                    replay_walls.append(time.perf_counter() - began)
                    foreign = system_busy_s() - busy - (own_cpu_s() - own)
                    replay_foreign.append(max(0.0, foreign) / replay_walls[-1])
                else:
                    workers = int(step[1])
                    log(f"repeat {r + 1}/{repeats}: pipeline run, {workers} worker(s)")
                    out = tmp / f"run-w{workers}-{r}"
                    result = run_editforge(photos, out, per_photo=per_photo, seed=seed, workers=workers)
                    runs[workers].append(result)
        pinned: dict[int, RunResult] = {}
        for workers in (1, 2):
            gate.wait()
            log(f"pipeline run, {workers} worker(s), library threads pinned to 1")
            out = tmp / f"pinned-w{workers}"
            pinned[workers] = run_editforge(
                photos, out, per_photo=per_photo, seed=seed, workers=workers, pin_threads=True
            )
        log("orchestration piece: dispatch of one stage call to a worker and back")
        per_call = dispatch_cost(baseline_dir)

        gate.wait()
        log("machine ceiling again: the pure-Python burn")
        figures["cpu_ceiling"]["end"] = cpu_ceiling()
        figures["foreign_load"] = {
            "runs_cores": [x.foreign_cores for x in (*runs[1], *runs[2], *pinned.values())],
            "replays_cores": replay_foreign,
            "waited_s": gate.waited_s,
        }

        memory: dict[int, RunResult] = {}
        for count in cfg["mem_photos"]:
            folder, out = tmp / f"small-{count}", tmp / f"mem-{count}"
            make_small_photos(folder, count, side=cfg["mem_side"])
            log(f"memory run: {count} photos of {cfg['mem_side']} px × {per_photo} types, 2 workers")
            memory[count] = run_editforge(folder, out, per_photo=per_photo, seed=seed, workers=2)

    figures["bench_wall_s"] = time.monotonic() - started
    figures["runs"] = {str(w): [run_dict(x) for x in rs] for w, rs in runs.items()}
    figures["pinned_runs"] = {str(w): run_dict(x) for w, x in pinned.items()}
    figures["memory_runs"] = {str(c): run_dict(x) for c, x in memory.items()}
    figures["replays"] = [
        asdict(rp) | {"work_s": rp.work_s, "wall_s": w} for rp, w in zip(replays, replay_walls, strict=True)
    ]

    # Timings taken while other processes used more than QUIET cores are left out of every statistic
    # (all are kept when none was quiet); figures["foreign_load"] says how many were used.
    def quiet(items: list[Any], loads: list[float]) -> list[Any]:
        kept = [x for x, load in zip(items, loads, strict=True) if load <= QUIET]
        return kept or items

    one = quiet(runs[1], [x.foreign_cores for x in runs[1]])
    two = quiet(runs[2], [x.foreign_cores for x in runs[2]])
    pair_loads = [max(a.foreign_cores, b.foreign_cores) for a, b in zip(runs[1], runs[2], strict=True)]
    pairs = quiet(list(zip(runs[1], runs[2], strict=True)), pair_loads)
    alone = quiet(replays, replay_foreign)
    figures["foreign_load"]["kept"] = {  # how many timings were quiet (0: all were used, none quiet)
        "runs_1w": sum(x.foreign_cores <= QUIET for x in runs[1]),
        "runs_2w": sum(x.foreign_cores <= QUIET for x in runs[2]),
        "pairs": sum(load <= QUIET for load in pair_loads),
        "replays": sum(load <= QUIET for load in replay_foreign),
    }

    # -- throughput and scaling ------------------------------------------------------------------
    tasks = runs[1][0].tasks
    wall1, wall2 = median([x.wall_s for x in one]), median([x.wall_s for x in two])
    every_run = [*runs[1], *runs[2], *pinned.values()]
    figures["throughput"] = {
        "tasks": tasks,
        "counts": runs[1][0].counts,
        "same_outcome_all_runs": all(x.counts == runs[1][0].counts for x in every_run),
        "wall_1w_s": wall1,
        "wall_2w_s": wall2,
        "tasks_per_s_1w": tasks / wall1,
        "tasks_per_s_2w": tasks / wall2,
        "cores_busy_1w": median([x.cores_busy for x in one]),
        "cores_busy_2w": median([x.cores_busy for x in two]),
        "cpu_per_task_2w_vs_1w": median([x.cpu_s for x in two]) / median([x.cpu_s for x in one]),
    }
    speedups = [a.wall_s / b.wall_s for a, b in pairs]
    busy1 = [a.in_run_work_s / a.wall_s for a, _ in pairs]
    busy2 = [b.in_run_work_s / (2 * b.wall_s) for _, b in pairs]
    inflation = [b.in_run_work_s / a.in_run_work_s for a, b in pairs]
    engine_limit = [2 * u2 / u1 for u1, u2 in zip(busy1, busy2, strict=True)]
    speedup = median(speedups)
    figures["scaling"] = {
        "speedup_1_to_2": speedup,
        "speedup_each_pair": speedups,
        "speedup_1_to_2_pinned": pinned[1].wall_s / pinned[2].wall_s,
        "pinned_quiet": max(pinned[1].foreign_cores, pinned[2].foreign_cores) <= QUIET,
        "pinned_worker_busy": [
            pinned[1].in_run_work_s / pinned[1].wall_s,
            pinned[2].in_run_work_s / (2 * pinned[2].wall_s),
        ],
        "pinned_work_inflation_2w": pinned[2].in_run_work_s / pinned[1].in_run_work_s,
        "pinned_1w_vs_default_1w": pinned[1].wall_s / wall1,
        "pinned_cores_busy_1w": pinned[1].cores_busy,
        # speed-up = 2 x (u2 / u1) / inflation: how busy the engine keeps its workers (u: share of each
        # worker's wall time spent inside stage calls) and how much slower the same work runs when two
        # processes share this machine (inflation: in-run work time, 2 workers / 1 worker).
        "worker_busy_1w": median(busy1),
        "worker_busy_2w": median(busy2),
        "work_inflation_2w": median(inflation),
        "engine_limited_speedup": median(engine_limit),
        "engine_limited_each_pair": engine_limit,
        "inflation_each_pair": inflation,
        "machine_ceiling_pure_python": [c["speedup_2_procs"] for c in figures["cpu_ceiling"].values()],
        "goal": GOAL_SCALING,
        "met": speedup >= GOAL_SCALING,
    }

    # -- overhead ---------------------------------------------------------------------------------
    pieces = {p: median([rp.pieces[p] for rp in alone]) for p in PIECES}
    work_s = sum(pieces.values())
    share = 1 - work_s / wall1

    def of_wall(seconds: Callable[[RunResult], float]) -> float:  # median share of the 1-worker wall
        return median([seconds(x) / x.wall_s for x in one])

    parts = {  # 1 - work/wall = worker idle + the work being slower inside the run than alone
        "worker idle (wall - time inside stage calls)": of_wall(lambda x: x.wall_s - x.in_run_work_s),
        "  before the first stage call (imports, models, pool)": of_wall(lambda x: x.before_first_call_s),
        "    of which interpreter start + CLI imports": of_wall(lambda x: x.import_s),
        "  between stage calls (dispatch, ledger, asyncio)": of_wall(lambda x: x.gaps_s),
        "  after the last stage call (export, shutdown)": of_wall(lambda x: x.after_last_call_s),
        "    of which the export of the jsonl files": of_wall(lambda x: x.export_s),
        "work slower inside the run than alone": (median([x.in_run_work_s for x in one]) - work_s) / wall1,
        "context: parent in the ledger (overlaps the worker)": of_wall(lambda x: x.ledger_s),
        "context: building the 4 models, one process": median([rp.setup_s for rp in alone]) / wall1,
    }
    replay_pairs = list(zip(replays, runs[1], strict=True))
    figures["overhead"] = {
        "share": share,
        "share_inside_run_command": 1 - work_s / median([x.run_s for x in one]),
        "share_each_repeat_unfiltered": [1 - rp.work_s / x.wall_s for rp, x in replay_pairs],
        "goal": GOAL_OVERHEAD,
        "met": share <= GOAL_OVERHEAD,
        "work_s": work_s,
        "in_run_work_s": median([x.in_run_work_s for x in one]),
        "wall_1w_s": wall1,
        "pieces_s": pieces,
        "pieces_share_of_work": {p: v / work_s for p, v in pieces.items()},
        "redecode_share_of_work": median([rp.redecode_s / rp.work_s for rp in alone]),
        "stage_calls": replays[0].calls,
        "stage_calls_in_run": runs[1][0].stage_calls,
        "dispatch_per_call_s": per_call,
        "gap_per_call_in_run_s": median([x.gaps_s / max(1, sum(x.stage_calls.values()) - 1) for x in one]),
        "parts_share_of_wall": parts,
        "replay_mismatches": sorted({m for rp in replays for m in rp.mismatches}),
        "calls_match": runs[1][0].stage_calls == replays[0].calls,
    }

    # -- memory -----------------------------------------------------------------------------------
    small, large = (memory[c] for c in cfg["mem_photos"])
    growth_mib = large.parent_maxrss_mib - small.parent_maxrss_mib
    parent_ratio = large.parent_maxrss_mib / small.parent_maxrss_mib
    workers_ratio = large.workers_maxrss_mib / small.workers_maxrss_mib
    figures["memory"] = {
        "tasks": [small.tasks, large.tasks],
        "parent_mib": [small.parent_maxrss_mib, large.parent_maxrss_mib],
        "workers_mib": [small.workers_maxrss_mib, large.workers_maxrss_mib],
        "parent_ratio": parent_ratio,
        "workers_ratio": workers_ratio,
        "tasks_per_s": [small.tasks / small.wall_s, large.tasks / large.wall_s],
        # what the parent's peak grows by per planned task (it holds every Photo and planned Task)
        "parent_kib_per_task": growth_mib * 1024 / (large.tasks - small.tasks),
        "goal": GOAL_MEMORY,
        "met": max(parent_ratio, workers_ratio) <= GOAL_MEMORY,
    }
    return figures


def main() -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--quick", action="store_true", help="a smaller variant (about a minute)")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args()
    figures = measure("quick" if args.quick else "full")
    print(report(figures, QUIET))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
        log(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
