"""A timed run of `editforge run` in its own process, instrumented without changing how it runs.

Used by bench/offline_pipeline.py; what each figure means: docs/benchmarks.md.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from _common import THREAD_ENV, system_busy_s

# A fresh interpreter runs `editforge run …` in-process and reports its own timings and peaks. It also
# instruments the real run, without changing it: time the parent spends in Ledger methods and in the
# export, and, in the workers, the time of every stage call (engine.work's do_* functions are wrapped
# before the pool forks; pickle sends them by name, so the workers run the wrapped ones).
# The parent's peak is VmHWM from /proc, not RUSAGE_SELF's ru_maxrss: Linux carries ru_maxrss across
# exec, so it would report the benchmark's own size at spawn time. The workers' peak is RUSAGE_CHILDREN
# (the pool's forked workers, joined at pool shutdown; their own high-water marks, no exec involved).
_WRAPPER = r"""
import functools, inspect, json, os, resource, sys, time
t0 = time.monotonic()
report, calls_dir, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
from editforge.cli import main
import editforge.engine.runner, editforge.engine.work as work, editforge.store.ledger as ledger_mod
import editforge.export.picobanana as export_mod
t1 = time.monotonic()
spent = {"ledger": 0.0, "export": 0.0}
depth = [0]

def timed(kind, fn):
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen(*args, **kwargs):
            return iter(timed(kind, lambda *a, **k: list(fn(*a, **k)))(*args, **kwargs))
        return gen
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if depth[0]:
            return fn(*args, **kwargs)
        depth[0] += 1
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[kind] += time.perf_counter() - started
            depth[0] -= 1
    return wrapper

class TimedCM:
    def __init__(self, cm):
        self.cm = cm
    def _run(self, fn, *args):
        if depth[0]:
            return fn(*args)
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            spent["ledger"] += time.perf_counter() - started
    def __enter__(self):
        return self._run(self.cm.__enter__)
    def __exit__(self, *exc):
        return self._run(self.cm.__exit__, *exc)

for name, fn in list(vars(ledger_mod.Ledger).items()):
    if name == "transaction":
        setattr(ledger_mod.Ledger, name, functools.wraps(fn)(lambda self, _fn=fn: TimedCM(_fn(self))))
    elif inspect.isfunction(fn) and not name.startswith("__"):
        setattr(ledger_mod.Ledger, name, timed("ledger", fn))
original_export = export_mod.export_picobanana
timed_export = timed("export", original_export)
for module in list(sys.modules.values()):
    mine = getattr(module, "__name__", "").startswith("editforge")
    if mine and getattr(module, "export_picobanana", None) is original_export:
        module.export_picobanana = timed_export

def stage(name, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            ended = time.monotonic()
            with open(os.path.join(calls_dir, f"{os.getpid()}.txt"), "a") as f:
                f.write(f"{name} {started} {ended}\n")
    return wrapper

for name, fn in list(vars(work).items()):
    if name.startswith("do_") and inspect.isfunction(fn):
        setattr(work, name, stage(name[3:], fn))

sys.argv = ["editforge", *argv]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
t2 = time.monotonic()
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
with open("/proc/self/status") as f:
    hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
with open(report, "w") as f:
    json.dump({
        "t_start": t0, "t_imported": t1, "t_end": t2, "code": code,
        "parent_maxrss_kib": hwm, "workers_maxrss_kib": kids.ru_maxrss,
        "parent_cpu_s": me.ru_utime + me.ru_stime, "workers_cpu_s": kids.ru_utime + kids.ru_stime,
        "ledger_s": spent["ledger"], "export_s": spent["export"],
    }, f)
sys.exit(code)
"""


@dataclass
class RunResult:
    workers: int
    wall_s: float  # the whole command, interpreter start to exit
    import_s: float  # interpreter start and the imports of editforge's CLI and engine
    run_s: float  # inside editforge's `run` command
    parent_maxrss_mib: float
    workers_maxrss_mib: float
    cpu_s: float  # parent + workers, user + system
    ledger_s: float  # parent: time in Ledger methods (outside the export)
    export_s: float  # parent: writing the jsonl files at the end
    stage_s: dict[str, float]  # workers: time inside stage calls, per stage (summed over workers)
    stage_calls: dict[str, int]
    before_first_call_s: float  # command start → the first stage call starts (imports, models, pool)
    after_last_call_s: float  # the last stage call ends → the command has exited (export, shutdown)
    gaps_s: float  # summed over workers: idle time between a worker's first and last stage call
    tasks: int
    foreign_cores: float  # other processes' CPU use during the run, in cores (0 on a quiet machine)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def cores_busy(self) -> float:
        return self.cpu_s / self.wall_s

    @property
    def in_run_work_s(self) -> float:
        return sum(self.stage_s.values())


def run_editforge(
    images: Path, out: Path, *, per_photo: int, seed: int, workers: int, pin_threads: bool = False
) -> RunResult:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_ENV}
    if pin_threads:
        env.update(dict.fromkeys(THREAD_ENV, "1"))
    args = [
        "run",
        "--images",
        str(images),
        "--out",
        str(out),
        "--per-photo",
        str(per_photo),
        "--seed",
        str(seed),
        "--workers",
        str(workers),
        "--quiet",
    ]
    with tempfile.TemporaryDirectory(prefix="editforge-bench-run-") as scratch_name:
        scratch = Path(scratch_name)
        report_path, calls_dir = scratch / "report.json", scratch / "calls"
        calls_dir.mkdir()
        busy_before = system_busy_s()
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-c", _WRAPPER, str(report_path), str(calls_dir), *args],
            env=env,
            capture_output=True,
            text=True,
        )
        ended = time.monotonic()
        busy = system_busy_s() - busy_before
        if proc.returncode != 0:
            raise RuntimeError(f"editforge run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        rep = json.loads(report_path.read_text())
        stage_s: Counter[str] = Counter()
        stage_calls: Counter[str] = Counter()
        gaps, firsts, lasts = 0.0, [], []
        for path in calls_dir.iterdir():
            spans = []
            for line in path.read_text().splitlines():
                name, begin, end = line.split()
                spans.append((float(begin), float(end)))
                stage_s[name] += float(end) - float(begin)
                stage_calls[name] += 1
            spans.sort()
            firsts.append(spans[0][0])
            lasts.append(spans[-1][1])
            gaps += sum(max(0.0, b[0] - a[1]) for a, b in itertools.pairwise(spans))
    from editforge.store.ledger import Ledger

    with Ledger(out / "ledger.sqlite") as ledger:
        counts = ledger.count_tasks()
    return RunResult(
        workers=workers,
        wall_s=ended - started,
        import_s=rep["t_imported"] - started,
        run_s=rep["t_end"] - rep["t_imported"],
        parent_maxrss_mib=rep["parent_maxrss_kib"] / 1024,
        workers_maxrss_mib=rep["workers_maxrss_kib"] / 1024,
        cpu_s=rep["parent_cpu_s"] + rep["workers_cpu_s"],
        ledger_s=rep["ledger_s"],
        export_s=rep["export_s"],
        stage_s=dict(stage_s),
        stage_calls=dict(stage_calls),
        before_first_call_s=min(firsts) - started,
        after_last_call_s=ended - max(lasts),
        gaps_s=gaps,
        tasks=sum(counts.values()),
        foreign_cores=max(0.0, busy - rep["parent_cpu_s"] - rep["workers_cpu_s"]) / (ended - started),
        counts=counts,
    )
