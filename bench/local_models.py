"""The engine around local models, on the tiny random-weight models: overhead, batching, runner memory.

    python bench/local_models.py             # 16 judge calls per mode, 2 rounds (several minutes on 2 cores)
    python bench/local_models.py --quick     # 8 calls, 1 round
    python bench/local_models.py --json figures.json

Everything goes through the engine's device workers (engine.devices): spawned worker processes, the
batching stand-in, the unchanged stage function (engine.work.do_judge reading images from a run's store).
1. overhead: the share of wall time (first call sent → last result back) spent outside the model's
   `*_many` calls (the workers' device-seconds), with calls arriving concurrently as a run sends them;
2. batching gain: judge calls per second with batch_size 8 against batch_size 1, same calls, same run;
3. memory: the runner process's RSS with the rewriter's workers holding a tiny model against a larger
   random one (the same builder, 2048 wide); the workers' RSS shows where the weights went.
Ratios only; absolute times are context (docs/benchmarks.md states the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import wait
from pathlib import Path
from typing import Any

import numpy as np
from _common import machine_info

from editforge.config import Roles, RoleSpec
from editforge.engine import work
from editforge.engine.devices.pool import DevicePool
from editforge.models.registry import build_role
from editforge.records import Attempt, Instruction, ModelRef, Task
from editforge.store.images import ImageStore


def _rss(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time: the work done, whatever the neighbours on a shared machine take."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _judge_calls(run_dir: Path, count: int) -> list[tuple[Task, Attempt, float]]:
    import skimage.data
    from PIL import Image

    store = ImageStore(run_dir)
    paths = []
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        pil = Image.fromarray(getattr(skimage.data, name)())
        pil.thumbnail((128, 128))
        paths.append(store.put(np.asarray(pil.convert("RGB"))))
    ref = ModelRef(provider="offline", model="classical-editor")
    calls = []
    for i in range(count):
        task = Task(task_id=f"t{i}", photo_id="p", edit_type="color_tone", seed=i, input_image=paths[i % 4])
        attempt = Attempt(
            attempt_id=f"a{i}", task_id=task.task_id, index=1, seed=i, instruction="Make the photo warmer.",
            status="ok", output_image=paths[(i + 1) % 4], model=ref,
        )  # fmt: skip
        calls.append((task, attempt, 0.7))
    return calls


def _pool(role: str, model_dir: Path, run_dir: Path, options: dict[str, Any]) -> DevicePool:
    spec = RoleSpec(provider="local", model=str(model_dir), options={"devices": ["cpu"], **options})
    roles = Roles(**{role: spec})
    model = build_role(role, "local", spec.model, spec.options)  # type: ignore[arg-type]
    return DevicePool(role, model, run_dir, roles, timeout_s=3600)  # type: ignore[arg-type]


def judge_round(vlm: Path, run_dir: Path, batch: int, count: int) -> dict[str, float]:
    options = {"batch_size": batch, "batch_wait_s": 0.05, "max_new_tokens": 16, "retries": 0, "temperature": 0}
    pool = _pool("judge", vlm, run_dir, options)
    try:
        calls = _judge_calls(run_dir, count)
        pool.submit(work.do_judge, *calls[0]).result()  # warm: the worker has spawned and loaded
        before = pool.stats()["device_seconds"]
        pid = pool._workers[0].process.pid or 0
        cpu_before = _cpu_seconds(pid)
        started = time.perf_counter()
        futures = [pool.submit(work.do_judge, *call) for call in calls]
        wait(futures)
        wall = time.perf_counter() - started
        device = pool.stats()["device_seconds"] - before
        cpu = _cpu_seconds(pid) - cpu_before
        assert all(f.result().status in ("failed", "ok") for f in futures)  # garbage replies: recorded failures
        return {
            "wall_s": wall, "device_s": device, "calls_per_s": count / wall, "outside": 1 - device / wall,
            "worker_cpu_s_per_call": cpu / count,
        }  # fmt: skip
    finally:
        pool.shutdown()


def memory_round(lm_dir: Path, run_dir: Path) -> dict[str, int]:
    pool = _pool("rewriter", lm_dir, run_dir, {"batch_size": 2, "max_new_tokens": 4})
    try:
        task = Task(task_id="t", photo_id="p", edit_type="color_tone", seed=1, input_image="x.png")
        long = Instruction(task_id="t", kind="long", text="Make the photo warmer.", model=ModelRef(
            provider="offline", model="template-writer"))  # fmt: skip
        wait([pool.submit(work.do_rewrite, task, long) for _ in range(2)])
        workers = [w.process.pid for w in pool._workers]
        return {"runner_rss": _rss(), "worker_rss": sum(_rss(pid) for pid in workers if pid)}
    finally:
        pool.shutdown()


def build_models(root: Path) -> dict[str, Path]:
    """The tiny models, and the tiny LM's builder made wider; built in a child process so that this one,
    the runner, never imports torch (a real runner does not)."""
    script = (
        "import sys, json; from pathlib import Path; from editforge.testing import tiny_models, tiny_vlm\n"
        "root = Path(sys.argv[1]); built = tiny_models.build(root / 'tiny', ['vlm', 'lm'])\n"
        "tiny_vlm.HIDDEN = 2048  # ~600x the tiny LM's parameters\n"
        "built['lm_large'] = tiny_models.build(root / 'large', ['lm'])['lm']\n"
        "print(json.dumps({k: str(v) for k, v in built.items()}))"
    )
    out = subprocess.run([sys.executable, "-c", script, str(root)], check=True, capture_output=True, text=True)
    return {kind: Path(folder) for kind, folder in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*.safetensors"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    count, rounds = (8, 1) if args.quick else (16, 2)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        models = build_models(root)
        by_batch: dict[int, list[dict[str, float]]] = {1: [], 8: []}
        for r in range(rounds):  # alternate the modes so a noisy neighbour hurts both alike
            for batch in (8, 1) if r % 2 else (1, 8):
                by_batch[batch].append(judge_round(models["vlm"], root / f"judge-{batch}-{r}", batch, count))
                print(f"batch {batch}: {by_batch[batch][-1]}", file=sys.stderr)
        tiny = memory_round(models["lm"], root / "mem-tiny")
        large = memory_round(models["lm_large"], root / "mem-large")
        model_bytes = {"tiny": _size(models["lm"]), "large": _size(models["lm_large"])}
        assert "torch" not in sys.modules, "the runner process must not have imported torch"

    def median(batch: int, key: str) -> float:
        return statistics.median(r[key] for r in by_batch[batch])

    figures = {
        "machine": machine_info(),
        "judge_calls_per_mode": count,
        "rounds": rounds,
        "overhead_outside_model_calls": {b: round(median(b, "outside"), 4) for b in (1, 8)},
        "calls_per_s": {b: round(median(b, "calls_per_s"), 3) for b in (1, 8)},
        "batching_gain_8_vs_1": round(median(8, "calls_per_s") / median(1, "calls_per_s"), 2),
        "batching_gain_per_worker_cpu_second": round(
            median(1, "worker_cpu_s_per_call") / median(8, "worker_cpu_s_per_call"), 2
        ),
        "model_bytes": model_bytes,
        "runner_rss_bytes": {"tiny": tiny["runner_rss"], "large": large["runner_rss"]},
        "runner_rss_ratio_large_vs_tiny": round(large["runner_rss"] / tiny["runner_rss"], 3),
        "worker_rss_bytes": {"tiny": tiny["worker_rss"], "large": large["worker_rss"]},
        "worker_rss_ratio_large_vs_tiny": round(large["worker_rss"] / tiny["worker_rss"], 3),
        "rounds_detail": by_batch,
    }
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
