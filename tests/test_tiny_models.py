"""The tiny-model command writes ordinary model folders that load the way downloaded ones do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from editforge.testing import tiny_models  # noqa: E402

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_the_command_writes_the_chosen_kinds(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "editforge.testing.tiny_models", str(tmp_path), "--only", "lm"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["lm", str(tmp_path / "lm")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lm"]
    assert {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"} <= {
        p.name for p in (tmp_path / "lm").iterdir()
    }
    assert (tmp_path / "lm" / "model.safetensors").stat().st_size < 1_000_000


def test_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown tiny model kind"):
        tiny_models.build(tmp_path, ["gpt-17"])
    assert set(tiny_models.registry()) >= {"vlm", "qwen2_5_vl", "qwen3_5", "internvl", "lm"}


@pytest.mark.parametrize("kind, processor", [("vlm", "Qwen3VLProcessor"), ("qwen2_5_vl", "Qwen2_5_VLProcessor")])
def test_vision_models_load_through_the_auto_classes(tiny_model, kind: str, processor: str) -> None:
    from transformers import AutoModelForImageTextToText

    from editforge.models.local.processors import load_processor

    folder = tiny_model(kind)
    # The folder names the real processor class, as a downloaded checkpoint does.
    assert json.loads((folder / "processor_config.json").read_text())["processor_class"] == processor
    loaded = load_processor(folder)
    assert type(loaded).__name__ == processor
    model = AutoModelForImageTextToText.from_pretrained(folder)
    assert not model.training
    ids = loaded.tokenizer("héllo <|im_end|>")["input_ids"]
    assert loaded.tokenizer.decode(ids) == "héllo <|im_end|>"  # byte-level: any text round-trips


def test_a_processor_keeps_its_own_settings_without_torchvision(tiny_model) -> None:
    from editforge.models.local.processors import load_processor

    folder = tiny_model("internvl")
    saved = json.loads((folder / "processor_config.json").read_text())
    assert saved["processor_class"] == "InternVLProcessor" and saved["image_seq_length"] == 4
    assert load_processor(folder).image_seq_length == 4


def test_builds_repeat_bit_for_bit(tmp_path: Path) -> None:
    first = tiny_models.build(tmp_path / "a", ["lm"])["lm"]
    second = tiny_models.build(tmp_path / "b", ["lm"])["lm"]
    assert (first / "model.safetensors").read_bytes() == (second / "model.safetensors").read_bytes()
