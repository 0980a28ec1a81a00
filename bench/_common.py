"""What every bench shares: the machine (what it is, how busy it is, what it allows) and the test photos.

The offline pipeline's timed CLI run is `_timed_run`, its in-process replay `_replay`. Everything here
measures; nothing here changes how editforge runs. See docs/benchmarks.md.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
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


def load_sample(name: str) -> np.ndarray:
    """One of the sample photos, as RGB pixels."""
    with Image.open(_sample_dir() / name) as img:
        return np.asarray(img.convert("RGB"))


def make_large_photos(folder: Path, count: int, side: int = 1024) -> list[Path]:
    """`count` JPEGs about `side` px on the long side: the sample photos, then centre crops of them."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        name = LARGE_SOURCES[i % len(LARGE_SOURCES)]
        pixels = load_sample(name)
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
    sources = [load_sample(n) for n in LARGE_SOURCES[:8]]
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
