"""The tiny editor builders write folders shaped like the real releases: every model_index.json entry names a
diffusers or transformers class (nothing of editforge's), the weights are small, and builds repeat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("diffusers")

from editforge.testing import tiny_models  # noqa: E402
from editforge.testing.tiny_editors import TINY_EDITOR_OPTIONS  # noqa: E402

EDITOR_KINDS = sorted(TINY_EDITOR_OPTIONS)


def test_every_editor_kind_is_in_the_registry():
    assert set(EDITOR_KINDS) <= set(tiny_models.registry())


@pytest.mark.parametrize("kind", EDITOR_KINDS)
def test_the_folder_names_only_library_classes(tiny_editors, kind):
    folder = tiny_editors[kind]
    index = json.loads((folder / "model_index.json").read_text())
    entries = {name: entry for name, entry in index.items() if isinstance(entry, list)}
    for name, (library, class_name) in entries.items():
        if library is None:  # an optional component left out (InstructPix2Pix's safety checker)
            continue
        assert library in ("diffusers", "transformers"), (name, library, class_name)
        assert (folder / name).is_dir()
    weights = sum(p.stat().st_size for p in folder.rglob("*.safetensors"))
    assert 0 < weights < 20_000_000


def test_the_qwen_processor_entry_is_the_real_class(tiny_editors):
    index = json.loads((tiny_editors["qwen_image_edit_plus"] / "model_index.json").read_text())
    assert index["processor"] == ["transformers", "Qwen2VLProcessor"]


def test_builds_repeat_bit_for_bit(tmp_path: Path):
    first = tiny_models.build(tmp_path / "a", ["flux_kontext"])["flux_kontext"]
    second = tiny_models.build(tmp_path / "b", ["flux_kontext"])["flux_kontext"]
    for part in ("transformer", "vae", "text_encoder", "text_encoder_2"):
        (a,) = (first / part).glob("*.safetensors")
        assert a.read_bytes() == (second / part / a.name).read_bytes()
