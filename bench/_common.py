"""Helpers of the offline pipeline benchmark: the machine, test photos, timed runs, the in-process replay.

Everything here measures; nothing here changes how editforge runs. See docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

# Library thread knobs: numpy's OpenBLAS, OpenMP, MKL, and OpenCV's own pool (read at cv2 import).
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENCV_FOR_THREADS_NUM")

# Real colour photographs that scikit-image ships in its wheel (no download). Astronaut first: a person.
LARGE_SOURCES = (
    "astronaut.png",
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "motorcycle_left.png",
    "ihc.png",
    "motorcycle_right.png",
    "camera.png",
)


# -- the machine ---------------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    import cv2

    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return {
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gib": mem_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "opencv_threads_default": cv2.getNumThreads(),
        "thread_env": {k: os.environ.get(k) for k in THREAD_ENV},
    }


def system_busy_s() -> float:
    """CPU seconds all processes on this machine have used since boot (every CPU, /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class QuietGate:
    """Waits, before a timed step, until other processes leave the CPUs alone (a shared machine skews
    every timing), within a total waiting budget; records how busy the machine was otherwise."""

    def __init__(self, budget_s: float, threshold_cores: float = 0.2) -> None:
        self.budget_s = budget_s
        self.threshold = threshold_cores
        self.waited_s = 0.0

    def load(self, window_s: float = 1.0) -> float:
        before = system_busy_s()
        time.sleep(window_s)
        return (system_busy_s() - before) / window_s

    def wait(self) -> float:
        """Returns the load (cores busy) seen last; waits while it is above the threshold."""
        while True:
            load = self.load()
            if load <= self.threshold or self.waited_s >= self.budget_s:
                return load
            time.sleep(2.0)
            self.waited_s += 3.0


def _burn(n: int) -> float:
    started = time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i
    return time.perf_counter() - started


def cpu_ceiling(n: int = 10_000_000, repeats: int = 3) -> dict[str, Any]:
    """What this machine allows: the same pure-Python CPU burn ×2, in 1 process then in 2 at once."""
    ratios = []
    with ProcessPoolExecutor(max_workers=2) as pool:
        list(pool.map(_burn, [1000, 1000]))  # start both workers before timing
        for _ in range(repeats):
            started = time.perf_counter()
            list(pool.map(_burn, [n, n], chunksize=2))  # both on one worker: serial
            serial = time.perf_counter() - started
            started = time.perf_counter()
            futures = [pool.submit(_burn, n) for _ in range(2)]
            for f in futures:
                f.result()
            parallel = time.perf_counter() - started
            ratios.append(serial / parallel)
    return {"speedup_2_procs": statistics.median(ratios), "all": ratios}


def _worker_threads() -> dict[str, Any]:
    import cv2

    return {"opencv_threads": cv2.getNumThreads(), "env": {k: os.environ.get(k) for k in THREAD_ENV}}


def worker_thread_settings(run_dir: Path) -> dict[str, Any]:
    """Library thread settings inside a worker started the way the runner starts them."""
    from editforge.config import Roles
    from editforge.engine import work

    init = work.init_worker
    with ProcessPoolExecutor(max_workers=1, initializer=init, initargs=(run_dir, Roles())) as pool:
        return pool.submit(_worker_threads).result()


# -- photos --------------------------------------------------------------------------------------------
def _sample_dir() -> Path:
    import skimage.data

    return Path(skimage.data.__file__).parent


def _load(name: str) -> np.ndarray:
    with Image.open(_sample_dir() / name) as img:
        return np.asarray(img.convert("RGB"))


def make_large_photos(folder: Path, count: int, side: int = 1024) -> list[Path]:
    """`count` JPEGs about `side` px on the long side: the sample photos, then centre crops of them."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        name = LARGE_SOURCES[i % len(LARGE_SOURCES)]
        pixels = _load(name)
        if i >= len(LARGE_SOURCES):  # a second round: a centre crop, mirrored, so the pixels differ
            h, w = pixels.shape[:2]
            pixels = pixels[h // 8 : h - h // 8, w // 8 : w - w // 8, :][:, ::-1]
        img = Image.fromarray(np.ascontiguousarray(pixels))
        scale = side / max(img.size)
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
        path = folder / f"{i:03d}_{Path(name).stem}.jpg"
        img.save(path, quality=92)
        paths.append(path)
    return paths


def make_small_photos(folder: Path, count: int, side: int = 160, seed: int = 0) -> list[Path]:
    """`count` distinct small JPEGs: random crops, flips and tints of the sample photos."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sources = [_load(n) for n in LARGE_SOURCES[:8]]
    paths = []
    for i in range(count):
        src = sources[i % len(sources)]
        h, w = src.shape[:2]
        frac = rng.uniform(0.5, 0.9)
        ch, cw = int(h * frac), int(w * frac)
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = src[y : y + ch, x : x + cw].astype(np.float32) * rng.uniform(0.85, 1.15, 3)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        img = Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8))
        img.thumbnail((side, side), Image.Resampling.LANCZOS)
        path = folder / f"p{i:04d}.jpg"
        img.save(path, quality=90)
        paths.append(path)
    return paths


# -- a timed run of the CLI, in its own process ----------------------------------------------------------
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


# -- the work alone: replay a finished run's calls serially, in this process ----------------------------
class TimedImages:
    """The run's image store, timing reads (PNG decode) and writes (hash + PNG encode + atomic write).

    It also counts the decode time an 8-entry per-process cache of decoded images would have saved
    (store paths are content hashes, so such a cache could never serve stale pixels).
    """

    CACHE = 8

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.decode_s = 0.0
        self.encode_s = 0.0
        self.redecode_s = 0.0
        self._recent: list[str] = []

    def _touch(self, rel: str) -> bool:
        hit = rel in self._recent
        if hit:
            self._recent.remove(rel)
        self._recent = [*self._recent, rel][-self.CACHE :]
        return hit

    def get(self, rel: str) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.get(rel)
        finally:
            elapsed = time.perf_counter() - started
            self.decode_s += elapsed
            if self._touch(rel):
                self.redecode_s += elapsed

    def put(self, image: np.ndarray) -> str:
        started = time.perf_counter()
        try:
            rel = self.inner.put(image)
            self._touch(rel)
            return rel
        finally:
            self.encode_s += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


PIECES = ("ingest", "decode", "write", "rewrite", "edit", "judge", "encode")


@dataclass
class Replay:
    pieces: dict[str, float]  # seconds of work per piece (see PIECES)
    calls: dict[str, int]  # stage calls made, per stage
    setup_s: float  # building the four models once (a worker does this on its first calls)
    redecode_s: float  # decode time an 8-entry cache of decoded images would have saved
    mismatches: list[str]  # where the replay disagreed with the ledger (should be none: runs are seeded)

    @property
    def work_s(self) -> float:
        return sum(self.pieces.values())


def replay_run(run_dir: Path, images: Path, scratch: Path) -> Replay:
    """Re-run, serially and in this process, every stage call the run recorded in its ledger.

    Same provider classes, same stage functions (engine/work.py's do_*), same arguments, into a fresh
    image store (so every output is encoded and written again, as in the run). Decode and encode are
    split out of the stage times by timing the store's get/put.
    """
    from editforge.config import Roles
    from editforge.engine import work
    from editforge.sources.folder import folder_items
    from editforge.store.ledger import Ledger

    with Ledger(run_dir / "ledger.sqlite") as ledger:
        settings = json.loads(ledger.get_meta("plan_settings") or "{}")
        photos_by_uri = {item.uri: ledger.photo_for_uri(item.uri) for item in folder_items(images)}
        tasks = []
        for task in ledger.tasks():
            attempts = ledger.attempts(task.task_id)
            tasks.append(
                (
                    task,
                    ledger.photo(task.photo_id),
                    ledger.instruction(task.task_id, "long"),
                    ledger.instruction(task.task_id, "short"),
                    attempts,
                    ledger.verdicts(task.task_id),
                )
            )
    roles = Roles.model_validate(settings.get("roles", {}))
    ctx = work.WorkerContext(scratch, roles)
    images_io = TimedImages(ctx.images)
    ctx.images = images_io  # type: ignore[assignment]
    previous, work._context = work._context, ctx
    pieces = dict.fromkeys(PIECES, 0.0)
    calls: Counter[str] = Counter()
    mismatches: list[str] = []

    def timed(piece: str, fn: Any, *args: Any) -> Any:
        d0, e0 = images_io.decode_s, images_io.encode_s
        started = time.perf_counter()
        result = fn(*args)
        elapsed = time.perf_counter() - started
        decode, encode = images_io.decode_s - d0, images_io.encode_s - e0
        pieces["decode"] += decode
        pieces["encode"] += encode
        pieces[piece] += elapsed - decode - encode
        calls[piece] += 1
        return result

    try:
        # Import the model modules first (untimed): in a run the parent imports them before the pool forks.
        from editforge.models.offline.core import analysis  # noqa: F401 - imported lazily by do_ingest

        throwaway = work.WorkerContext(scratch, roles)
        for role in ("writer", "rewriter", "editor", "judge"):
            throwaway.model(role)  # type: ignore[arg-type]
        started = time.perf_counter()
        for role in ("writer", "rewriter", "editor", "judge"):
            ctx.model(role)  # type: ignore[arg-type]
        setup = time.perf_counter() - started

        for item in folder_items(images):
            photo = timed("ingest", work.do_ingest, item, settings.get("max_side", 1024))
            known = photos_by_uri.get(item.uri)
            if getattr(photo, "photo_id", None) != getattr(known, "photo_id", None):
                mismatches.append(f"ingest {item.uri}")
        for task, photo, long, short, attempts, verdicts in tasks:
            written = timed("write", work.do_write, task, photo)
            if long is None:  # the run's writer failed here too, and the task stopped
                continue
            if getattr(written, "text", None) != long.text:
                mismatches.append(f"write {task.task_id}")
            rewritten = timed("rewrite", work.do_rewrite, task, long)
            if short is None:
                continue
            if getattr(rewritten, "text", None) != short.text:
                mismatches.append(f"rewrite {task.task_id}")
            for recorded in attempts:
                attempt = timed("edit", work.do_edit, task, long.text, recorded.index)
                if (attempt.status, attempt.output_image) != (recorded.status, recorded.output_image):
                    mismatches.append(f"edit {recorded.attempt_id}")
                verdict = verdicts.get(recorded.attempt_id)
                if verdict is None or attempt.output_image is None:
                    continue
                again = timed("judge", work.do_judge, task, attempt, verdict.threshold)
                if (again.status, again.passed) != (verdict.status, verdict.passed):
                    mismatches.append(f"judge {recorded.attempt_id}")
    finally:
        work._context = previous
    return Replay(
        pieces=pieces,
        calls=dict(calls),
        setup_s=setup,
        redecode_s=images_io.redecode_s,
        mismatches=mismatches,
    )


# -- pieces of the orchestration, measured on their own -----------------------------------------------
def _echo(*args: Any) -> Any:
    return args[-1]


def dispatch_cost(run_dir: Path, calls: int = 300) -> float:
    """Seconds per stage call spent getting real arguments to a pool worker and a record back.

    One worker, one call in flight at a time, through asyncio's run_in_executor as the runner does, with
    a recorded Task + Photo as arguments and a recorded Attempt as the result.
    """
    from editforge.store.ledger import Ledger

    with Ledger(run_dir / "ledger.sqlite") as ledger:
        task = next(iter(ledger.tasks()))
        photo = ledger.photo(task.photo_id)
        attempt = ledger.attempts(task.task_id)[0]

    async def go(pool: ProcessPoolExecutor) -> float:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(pool, _echo, task, photo, attempt)
        started = time.perf_counter()
        for _ in range(calls):
            await loop.run_in_executor(pool, _echo, task, photo, attempt)
        return (time.perf_counter() - started) / calls

    with ProcessPoolExecutor(max_workers=1) as pool:
        return asyncio.run(go(pool))
