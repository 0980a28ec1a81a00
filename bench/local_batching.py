"""Batching gain of the local judge: items/s at batch 8 against batch 1, on the tiny random-weight VLM.

    python bench/local_batching.py              # 16 judged edits, 3 alternating rounds (a few minutes on 2 cores)
    python bench/local_batching.py --quick      # 8 edits, 1 round
    python bench/local_batching.py --json figures.json

Both modes judge the same edits with the same seeds; the replies must come out identical (the per-row
seeded sampler makes a row's text independent of its batch), so the two modes do the same work and the
ratio is the batching gain alone. Absolute times are context only: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine_info


def _edits(count: int) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    import skimage.data
    from PIL import Image

    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea(), skimage.data.rocket()]
    small = []
    for photo in photos:
        pil = Image.fromarray(photo)
        pil.thumbnail((256, 256))
        small.append(np.asarray(pil.convert("RGB")))
    words = ["make it warmer", "add falling snow", "zoom in on the subject", "turn it into a watercolour"]
    sources = [small[i % 4] for i in range(count)]
    editeds = [np.ascontiguousarray(small[(i + 1) % 4][::-1]) for i in range(count)]
    return sources, editeds, [words[i % 4] for i in range(count)]


def _judge_all(judge, edits, batch: int) -> tuple[float, float, list[str]]:  # noqa: ANN001 - a LocalJudge
    """(wall seconds, this process's CPU seconds, raw replies): CPU time shows the work when the machine is shared."""
    from editforge import taxonomy

    sources, editeds, instructions = edits
    kind = taxonomy.get("color_tone")
    raws: list[str] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for at in range(0, len(sources), batch):
        end = at + batch
        replies = judge.judge_many(
            sources[at:end], editeds[at:end], instructions[at:end], [kind] * len(sources[at:end])
        )
        raws.extend(reply.raw for reply in replies)
    return time.perf_counter() - started, time.process_time() - cpu_started, raws


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    count, rounds = (8, 1) if args.quick else (16, 3)

    from editforge.models.registry import build_role
    from editforge.testing import tiny_models

    with tempfile.TemporaryDirectory() as tmp:
        folder = tiny_models.build(Path(tmp), ["vlm"])["vlm"]
        # retries 0: each edit is one generation in both modes; 32 new tokens keeps a round short.
        judge = build_role("judge", "local", str(folder), {"devices": ["cpu"], "retries": 0, "max_new_tokens": 32})
        judge.load("cpu")
        edits = _edits(count)
        _judge_all(judge, (edits[0][:2], edits[1][:2], edits[2][:2]), 2)  # warm-up: first-call allocations
        times: dict[int, list[float]] = {1: [], 8: []}
        cpu: dict[int, list[float]] = {1: [], 8: []}
        outputs: dict[int, list[str]] = {}
        for _ in range(rounds):
            for batch in (1, 8):  # alternate, so a busier moment of the machine hits both modes
                seconds, cpu_seconds, raws = _judge_all(judge, edits, batch)
                times[batch].append(seconds)
                cpu[batch].append(cpu_seconds)
                outputs[batch] = raws
    same = outputs[1] == outputs[8]
    rate = {batch: count / statistics.median(values) for batch, values in times.items()}
    cpu_rate = {batch: count / statistics.median(values) for batch, values in cpu.items()}
    figures = {
        "edits": count,
        "rounds": rounds,
        "items_per_s_batch1": round(rate[1], 3),
        "items_per_s_batch8": round(rate[8], 3),
        "batching_gain": round(rate[8] / rate[1], 2),
        "cpu_seconds_gain": round(cpu_rate[8] / cpu_rate[1], 2),  # edits per CPU-second, batch 8 / batch 1
        "replies_identical": same,
        "machine": machine_info(),
    }
    print(f"judge, tiny Qwen3-VL on CPU, {count} edits × {rounds} round(s)")
    print(f"  batch 1: {rate[1]:.2f} edits/s   batch 8: {rate[8]:.2f} edits/s   gain {figures['batching_gain']}x")
    print(f"  per CPU-second of this process: gain {figures['cpu_seconds_gain']}x")
    print(f"  replies identical in both modes: {same}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
