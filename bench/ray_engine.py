"""Ray engine benchmark: Ray vs local throughput, the driver's coordination ceiling, driver memory vs plan size.

    python bench/ray_engine.py                 # the full variant (~10 minutes on 2 cores)
    python bench/ray_engine.py --quick         # smaller (~4 minutes)
    python bench/ray_engine.py --json ray.json --parts throughput,ceiling,memory

One local Ray (4 logical CPUs) is started here and every Ray run joins it by address, as a run joins a
real cluster; each run is its own interpreter (bench/_ray_child.py). Results are ratios against a
baseline measured in the same invocation; seconds are context. Write-up: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import machine_info, make_large_photos

CHILD = Path(__file__).with_name("_ray_child.py")
NICENESS = "RAY_worker_niceness"  # Ray's setting for its workers' niceness (its spelling)
GOAL_THROUGHPUT = 0.8  # Ray engine tasks/s over the local engine's, same offline run, at least
GOAL_MEMORY = 1.2  # driver peak RSS with 400K planned tasks over 100K, at most
GOAL_GPUS = 256  # GPUs one driver keeps busy with Qwen-Image-Edit-class editors, at least

# Editor seconds per edit on one GPU (docs/scale.md gives the sources; the 50-step figure is an assumption).
EDITOR_S = {
    "Qwen-Image-Edit-2511, 50 steps, true CFG (assumed)": 60.0,
    "Qwen-Image-Edit-2511 + 4-step Lightning, diffusers (A800, reported)": 5.0,
    "Qwen-Image-Edit-2511 + 4-step Lightning, LightX2V runtime (reported)": 1.2,
}

PLANS = (100_000, 400_000)  # planned tasks of the two memory runs
VARIANTS = {
    "full": {"photos": 8, "per_photo": 3, "side": 640, "repeats": 3, "ceiling_tasks": 3000},
    "quick": {"photos": 4, "per_photo": 3, "side": 512, "repeats": 1, "ceiling_tasks": 1000},
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measured(config: dict[str, Any], scratch: Path, instant: bool = False) -> dict[str, Any]:
    spec, report = scratch / f"spec-{time.monotonic_ns()}.json", scratch / f"report-{time.monotonic_ns()}.json"
    spec.write_text(json.dumps({"config": config, "instant": instant}, default=str))
    done = subprocess.run([sys.executable, str(CHILD), str(spec), str(report)], capture_output=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"run failed: {done.stderr.decode()[-3000:]}")
    return json.loads(report.read_text())


def engines(address: str, cpu_actors: int) -> dict[str, dict[str, Any]]:
    pool = {"min_actors": cpu_actors, "max_actors": cpu_actors}
    return {"local": {"engine": "local"}, "ray": {"engine": "ray", "ray_address": address, "ray": {"cpu": pool}}}


def throughput(v: dict[str, Any], address: str, tmp: Path) -> dict[str, Any]:
    """The same offline run on each engine (2 workers / 2 actors), alternating; tasks/s in the task phase."""
    photos = tmp / "photos"
    make_large_photos(photos, v["photos"], v["side"])
    rates: dict[str, list[float]] = {"local": [], "ray": []}
    walls: dict[str, list[float]] = {"local": [], "ray": []}
    releases = {}
    for repeat in range(v["repeats"]):
        order = ("local", "ray") if repeat % 2 == 0 else ("ray", "local")
        for name in order:
            out = tmp / f"tp-{name}-{repeat}"
            config = {"out": out, "images": photos, "per_photo": v["per_photo"], "seed": 2, "workers": 2,
                      "max_side": v["side"], **engines(address, 2)[name]}  # fmt: skip
            r = measured(config, tmp)
            tasks = sum(r["tasks"].values())
            rates[name].append(tasks / r["task_phase_s"])
            walls[name].append(r["wall_s"])
            releases[name] = (out / "sft.jsonl").read_bytes()
            log(f"throughput {name} #{repeat}: {tasks} tasks, {rates[name][-1]:.2f} tasks/s, wall {r['wall_s']:.1f} s")
    best = {k: max(x) for k, x in rates.items()}
    return {
        "tasks_per_s": rates, "wall_s": walls, "same_release": releases["local"] == releases["ray"],
        "ratio": best["ray"] / best["local"],
        "ratio_wall": min(walls["local"]) / min(walls["ray"]),
        "goal": GOAL_THROUGHPUT,
    }  # fmt: skip


def empty_photos(folder: Path, count: int) -> None:
    """Files the instant ingest never reads: only their names make distinct photos."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"p{i:06d}.png").touch()


def types_per_photo() -> int:
    """Single-turn types the offline models plan for a photo with no facts (what the instant ingest makes)."""
    from editforge.config import Roles
    from editforge.engine.work import build_models
    from editforge.records import Photo
    from editforge.stages.plan import photo_allows

    models = build_models(Roles())
    types = frozenset.intersection(*(frozenset(models[r].supported_types) for r in ("writer", "editor", "judge")))
    types -= frozenset(getattr(models["writer"], "session_only_types", ()))
    photo = Photo(photo_id="x", uri="x", image="x", width=64, height=64)
    return sum(1 for k in types if photo_allows(photo, k))


def instant_run(address: str, engine: str, tmp: Path, tasks: int, done: int, cpu_actors: int = 2) -> dict[str, Any]:
    per_photo = min(35, types_per_photo())
    photos = tmp / f"empty-{tasks}"
    if not photos.exists():
        empty_photos(photos, math.ceil(tasks / per_photo))
    config = {"out": tmp / f"instant-{engine}-{tasks}-{time.monotonic_ns()}", "images": photos, "per_photo": per_photo,
              "workers": 2, "targets": {"sft": done}, **engines(address, cpu_actors)[engine]}  # fmt: skip
    return measured(config, tmp, instant=True)


def ceiling(v: dict[str, Any], address: str, tmp: Path) -> dict[str, Any]:
    """Instant models: what the driver itself can drive (tasks/s, ledger commits/s), and what that means."""
    figures: dict[str, Any] = {}
    for engine in ("local", "ray"):
        r = instant_run(address, engine, tmp, v["ceiling_tasks"], v["ceiling_tasks"], cpu_actors=4)
        done = r["tasks"].get("passed", 0)
        figures[engine] = {"tasks_per_s": done / r["task_phase_s"], "commits_per_s": r["calls"] / r["task_phase_s"],
                           "tasks": done, "calls": r["calls"]}  # fmt: skip
        rates = figures[engine]
        log(f"ceiling {engine}: {rates['tasks_per_s']:.0f} tasks/s, {rates['commits_per_s']:.0f} commits/s")
    rate = figures["ray"]["tasks_per_s"]
    # One GPU finishes an edit every E s; a task costs attempts × E GPU-seconds. A driver that completes R
    # tasks/s keeps R × E × attempts GPUs busy; 1 attempt per task is the worst case for the driver.
    figures["gpus_one_driver_keeps_busy"] = {name: rate * seconds for name, seconds in EDITOR_S.items()}
    figures["goal_gpus"] = GOAL_GPUS
    return figures


def memory(v: dict[str, Any], address: str, tmp: Path) -> dict[str, Any]:
    """Driver peak memory with 100K and 400K planned tasks (instant models, 1,000 of them run)."""
    peaks = {}
    for tasks in PLANS:
        r = instant_run(address, "ray", tmp, tasks, 1000)
        planned = sum(r["tasks"].values())
        peaks[tasks] = {"planned": planned, "driver_peak_mib": r["driver_peak_mib"], "wall_s": r["wall_s"]}
        log(f"memory: {planned} planned tasks, driver peak {r['driver_peak_mib']:.0f} MiB")
    ratio = peaks[PLANS[1]]["driver_peak_mib"] / peaks[PLANS[0]]["driver_peak_mib"]
    return {"runs": peaks, "ratio": ratio, "goal": GOAL_MEMORY}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--parts", default="throughput,ceiling,memory")
    args = parser.parse_args()
    v = VARIANTS["quick" if args.quick else "full"]
    import ray

    # Ray runs its workers at niceness 15. On a dedicated node that changes nothing; on this shared machine
    # it would hand the actors' CPU to everyone else, and the ratio would measure the neighbours, not Ray.
    os.environ.setdefault(NICENESS, "0")
    # The instant models live in bench/_ray_child.py: on the actors' path they travel by name, as
    # engine.work's functions do in a real run, not pickled by value on every call.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHILD.parent), os.environ.get("PYTHONPATH")]))
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    address = ray.get_runtime_context().gcs_address
    results: dict[str, Any] = {"machine": machine_info(), "variant": "quick" if args.quick else "full",
                               "load_before": os.getloadavg(), "worker_niceness": os.environ[NICENESS]}
    try:
        with tempfile.TemporaryDirectory(prefix="editforge-ray-bench-") as scratch:
            tmp = Path(scratch)
            for part in args.parts.split(","):
                results[part] = {"throughput": throughput, "ceiling": ceiling, "memory": memory}[part](v, address, tmp)
                if args.json:  # each part as it finishes: a later part's failure keeps the earlier figures
                    args.json.write_text(json.dumps(results, indent=2, default=str))
    finally:
        ray.shutdown()
    results["load_after"] = os.getloadavg()
    print(json.dumps(results, indent=2, default=str))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
