"""The table bench/offline_pipeline.py prints from its figures (what each one means: docs/benchmarks.md)."""

from __future__ import annotations

import statistics
from typing import Any


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def spread(values: list[float], fmt: str) -> str:
    return f"{format(min(values), fmt)}..{format(max(values), fmt)}" if len(values) > 1 else ""


def report(f: dict[str, Any], quiet: float) -> str:
    """The table bench/offline_pipeline.py prints; `quiet`: the most cores other processes may have used
    during a timing that was kept."""
    m, t, s, o, mem = f["machine"], f["throughput"], f["scaling"], f["overhead"], f["memory"]
    threads = f["worker_threads"]
    lines = [
        f"editforge offline pipeline benchmark ({f['variant']} variant, {f['bench_wall_s']:.0f} s)",
        f"machine: {m['cpu_model']}, {m['cpu_count']} logical CPUs ({m['cpus_usable']} usable), "
        f"{m['ram_gib']} GiB RAM, Python {m['python']}, numpy {m['numpy']}, OpenCV {m['opencv']}",
        f"library threads in a pool worker: OpenCV {threads['opencv_threads']}; "
        + ", ".join(f"{k}={v}" for k, v in threads["env"].items()),
        "",
        f"{'figure':<56} {'value':>8}  {'spread':>12}  {'goal':>8}  result",
        "-" * 100,
    ]

    def row(name: str, value: str, each: str = "", goal: str = "", result: str = "") -> None:
        lines.append(f"{name:<56} {value:>8}  {each:>12}  {goal:>8}  {result}".rstrip())

    counts = ", ".join(f"{v} {k}" for k, v in sorted(t["counts"].items()))
    row(f"tasks per run ({counts})", f"{t['tasks']}")
    if not t["same_outcome_all_runs"]:
        lines.append("WARNING: task outcomes differ between runs")
    row("throughput, 1 worker (tasks/s; context)", f"{t['tasks_per_s_1w']:.2f}")
    row("throughput, 2 workers (tasks/s; context)", f"{t['tasks_per_s_2w']:.2f}")
    row("CPUs busy in the 1-worker run (CPU time / wall)", f"{t['cores_busy_1w']:.2f}")
    row("CPUs busy in the 2-worker run (CPU time / wall)", f"{t['cores_busy_2w']:.2f}")
    row("CPU time of the run, 2 workers / 1 worker", f"{t['cpu_per_task_2w_vs_1w']:.2f}x")
    row(
        "orchestration overhead: 1 - work / 1-worker wall",
        f"{o['share']:.1%}",
        "",
        f"<= {o['goal']:.0%}",
        verdict(o["met"]),
    )
    row("  same, inside the `run` command (no interpreter start)", f"{o['share_inside_run_command']:.1%}")
    for part, value in o["parts_share_of_wall"].items():
        row(f"  {part}", f"{value:.1%}")
    row(f"  the work, by piece ({sum(o['stage_calls'].values())} stage calls; share of work):", "")
    for piece, value in o["pieces_share_of_work"].items():
        row(f"    {piece}", f"{value:.1%}")
    row("    of which re-decoding an image decoded moments before", f"{o['redecode_share_of_work']:.1%}")
    row(
        "speed-up 1 -> 2 workers (wall ratio)",
        f"{s['speedup_1_to_2']:.2f}x",
        spread(s["speedup_each_pair"], ".2f"),
        f">= {s['goal']}x",
        verdict(s["met"]),
    )
    pinned_note = "" if s["pinned_quiet"] else "(machine busy)"
    pinned_speedup = f"{s['speedup_1_to_2_pinned']:.2f}x"
    row("  same, library threads pinned to 1 (one pair of runs)", pinned_speedup, pinned_note)
    row("    work inflation when pinned (stage time 2 w / 1 w)", f"{s['pinned_work_inflation_2w']:.2f}x")
    row("  1 worker: wall pinned / wall default", f"{s['pinned_1w_vs_default_1w']:.2f}x")
    row("  CPUs busy in the 1-worker run, pinned", f"{s['pinned_cores_busy_1w']:.2f}")
    row("  = 2 x (workers busy, 2 w / 1 w) / (work inflation, 2 w / 1 w):", "")
    row("    share of worker time inside stage calls, 1 worker", f"{s['worker_busy_1w']:.1%}")
    row("    share of worker time inside stage calls, 2 workers", f"{s['worker_busy_2w']:.1%}")
    row(
        "    work inflation: stage time, 2 workers / 1 worker",
        f"{s['work_inflation_2w']:.2f}x",
        spread(s["inflation_each_pair"], ".2f"),
    )
    row(
        "  speed-up the engine allows here (no inflation)",
        f"{s['engine_limited_speedup']:.2f}x",
        spread(s["engine_limited_each_pair"], ".2f"),
        f">= {s['goal']}x",
        verdict(s["engine_limited_speedup"] >= s["goal"]),
    )
    burn = s["machine_ceiling_pure_python"]
    row("  machine: pure-Python burn 1 -> 2 processes, start/end", f"{burn[0]:.2f}/{burn[1]:.2f}")
    sizes = f"{mem['tasks'][1]} vs {mem['tasks'][0]} tasks"
    row(
        f"peak RSS, parent, {sizes}",
        f"{mem['parent_ratio']:.2f}x",
        "",
        f"<= {mem['goal']}x",
        verdict(mem["met"]),
    )
    row(f"peak RSS, largest worker, {sizes}", f"{mem['workers_ratio']:.2f}x")
    lines.append("-" * 100)
    lines.append(
        f"context: 1-worker wall {t['wall_1w_s']:.1f} s, 2-worker wall {t['wall_2w_s']:.1f} s, work alone "
        f"{o['work_s']:.1f} s, dispatch {o['dispatch_per_call_s'] * 1e3:.2f} ms/call (idle, no-op calls), "
        f"{o['gap_per_call_in_run_s'] * 1e3:.2f} ms/call in the 1-worker run; peak RSS parent "
        f"{mem['parent_mib'][0]:.0f} -> {mem['parent_mib'][1]:.0f} MiB, "
        f"worker {mem['workers_mib'][0]:.0f} -> {mem['workers_mib'][1]:.0f} MiB"
    )
    load = f["foreign_load"]
    every = [*load["runs_cores"], *load["replays_cores"]]
    kept = load["kept"]
    lines.append(
        f"other processes' CPU use during the timed steps: median {statistics.median(every):.2f}, max {max(every):.2f} "
        f"cores (waited {load['waited_s']:.0f} s for a quiet machine); kept timings with <= {quiet} cores: "
        f"{kept['runs_1w']}+{kept['runs_2w']} runs, {kept['pairs']} pairs, {kept['replays']} replays"
    )
    if not all(kept.values()):
        lines.append("WARNING: the machine was shared while timing; the time ratios above are unreliable")
    lines.append(
        f"parent peak RSS grows {mem['parent_kib_per_task']:.1f} KiB per planned task "
        f"(x 400,000 tasks = {mem['parent_kib_per_task'] * 400_000 / 1024**2:.1f} GiB if it stays linear)"
    )
    if not o["calls_match"]:
        differ = f"run {o['stage_calls_in_run']} vs replay {o['stage_calls']}"
        lines.append(f"WARNING: stage calls differ: {differ}")
    if o["replay_mismatches"]:
        lines.append(f"WARNING: the replay disagreed with the ledger at {o['replay_mismatches'][:5]}")
    return "\n".join(lines)
