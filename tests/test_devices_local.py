"""Whole runs with the local provider's tiny random-weight models (editforge.testing.tiny_models) on device
workers: the release is written, a garbage judge reply is a recorded judge failure (never a score), and a
resumed run makes no model call twice. CUDA variants (bf16, two roles on one GPU, batch > 1 on a GPU)
carry the `gpu` marker."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from editforge.config import build_config
from editforge.pipeline import run

RELEASE = ("sft.jsonl", "preference.jsonl", "multi-turn.jsonl", "sft.meta.jsonl")


def _config(out: Path, photos: Path, tiny_model: Any, devices: list[str], **extra: Any) -> Any:
    place = {"devices": devices, "batch_size": 4, "batch_wait_s": 0.2}
    return build_config(
        {
            "out": str(out),
            "images": str(photos),
            "photos": 2,
            "per_photo": 2,
            "max_attempts": 1,
            "max_side": 128,  # few vision tokens: the tiny models run on a CPU in seconds
            "seed": 11,
            "workers": 1,
            "judge_prefilter": False,  # every edit reaches the local judge
            "roles": {
                "writer": {"provider": "offline"},
                "rewriter": {
                    "provider": "local",
                    "model": str(tiny_model("lm")),
                    "options": {**place, "max_new_tokens": 8},
                },
                "editor": {"provider": "offline"},
                "judge": {
                    "provider": "local",
                    "model": str(tiny_model("vlm")),
                    "options": {**place, "max_new_tokens": 12, "retries": 1, **extra},
                },
            },  # fmt: skip
        },
        {},
    )


def _rows(out: Path, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(out / "ledger.sqlite")
    rows = db.execute(sql).fetchall()
    db.close()
    return rows


def _check_run(out: Path, photos: Path, tiny_model: Any, devices: list[str]) -> str:
    text = io.StringIO()
    summary = run(_config(out, photos, tiny_model, devices), console=Console(file=text, width=200))
    assert summary.stopped is None and summary.counts.get("planned", 0) == 0, text.getvalue()[-3000:]
    for name in RELEASE:
        assert (out / name).exists(), name
    verdicts = [json.loads(j) for (j,) in _rows(out, "SELECT json FROM verdicts")]
    assert verdicts, "the local judge was called"
    for verdict in verdicts:  # random weights write garbage: a recorded failure with its raw reply, no score
        assert verdict["status"] == "failed" and verdict["scores"] is None
        assert verdict["model"]["provider"] == "local" and verdict["model"]["prompt_version"]
        assert verdict["raw_reply"]
    calls = _rows(out, "SELECT role, status, device_seconds FROM calls ORDER BY id")
    assert {role for role, *_ in calls} >= {"rewriter", "judge"}
    assert all(seconds > 0 for role, _, seconds in calls if role in ("rewriter", "judge"))
    short = [json.loads(j) for (j,) in _rows(out, "SELECT json FROM instructions WHERE kind = 'short'")]
    assert short and all(s["model"]["provider"] == "local" for s in short)

    again = run(_config(out, photos, tiny_model, devices), console=Console(file=io.StringIO()))
    assert again.counts == summary.counts
    assert _rows(out, "SELECT role, status, device_seconds FROM calls ORDER BY id") == calls  # nothing paid twice
    return text.getvalue()


@pytest.mark.timeout(900)  # two whole runs, each spawning workers that import torch and transformers
def test_a_run_on_tiny_local_models_writes_a_release_and_records_garbage_as_judge_failures(
    tmp_path: Path, photo_dir: Path, tiny_model: Any
) -> None:
    _check_run(tmp_path / "run", photo_dir, tiny_model, ["cpu"])


@pytest.mark.gpu
def test_the_same_run_on_one_gpu_two_roles_sharing_it_in_bf16(tmp_path: Path, photo_dir: Path, tiny_model: Any) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    shown = _check_run(tmp_path / "run", photo_dir, tiny_model, ["cuda:0"])  # dtype auto → bf16 on CUDA
    assert "GPU " in shown and "GiB" in shown  # the workers report torch.cuda.memory_allocated
