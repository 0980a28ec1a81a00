"""docs/examples/vllm-mix.yaml, the documented mix of a lab's GPU box — writer, judge and rewriter on an
OpenAI-compatible server (vLLM / SGLang), the editor in-process on device workers — loaded as a user
loads it and run against the fake OpenAI-compatible server and the tiny local editor. Two runs with
the same seed make the same edited images, whatever batch each edit landed in."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from editforge.config import build_config, load_yaml
from editforge.pipeline import run
from editforge.testing.fake_openai import FakeOpenAI

EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "vllm-mix.yaml"


def _mixed(out: Path, photos: Path, server: FakeOpenAI, editor: Path) -> Any:
    from editforge.testing.tiny_editors import TINY_EDITOR_OPTIONS

    values = load_yaml(EXAMPLE)
    for role in ("writer", "judge", "rewriter"):  # the servers' address: here the fake one
        values["roles"][role]["options"]["base_url"] = server.base_url
    options = values["roles"]["editor"]["options"]
    options.update(TINY_EDITOR_OPTIONS["qwen_image_edit_plus"], devices=["cpu"], batch_size=2)
    values["roles"]["editor"]["model"] = str(editor)
    values.update(out=str(out), images=str(photos), photos=2, per_photo=1, max_attempts=1, seed=4, workers=1)
    return build_config(values, {})


def _edits(out: Path) -> dict[str, str]:
    db = sqlite3.connect(out / "ledger.sqlite")
    rows = db.execute("SELECT attempt_id, json_extract(json, '$.output_image') FROM attempts").fetchall()
    db.close()
    return dict(rows)


@pytest.mark.timeout(900)  # two whole runs, each starting an editor worker that imports torch and diffusers
def test_the_vllm_mix_runs_text_roles_on_the_server_and_the_editor_on_device_workers(
    tmp_path: Path, photo_dir: Path, tiny_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # no_key: a local server started without --api-key
    editor = tiny_model("qwen_image_edit_plus")
    with FakeOpenAI(api_key=None, models={"Qwen/Qwen3-VL-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct"}) as server:
        text = io.StringIO()
        first = run(_mixed(tmp_path / "a", photo_dir, server, editor), console=Console(file=text, width=200))
        assert first.stopped is None and first.counts.get("planned", 0) == 0, text.getvalue()[-3000:]
        assert server.count(route="writer") and server.count(route="rewriter") and server.errors == []
        assert server.count(route="editor") == 0  # the editor never went to the server
        db = sqlite3.connect(tmp_path / "a" / "ledger.sqlite")
        editor_calls = db.execute("SELECT provider, device_seconds FROM calls WHERE role = 'editor'").fetchall()
        db.close()
        assert editor_calls and all(p == "local" and s > 0 for p, s in editor_calls)
        second = run(_mixed(tmp_path / "b", photo_dir, server, editor), console=Console(file=io.StringIO()))
    assert second.counts == first.counts
    edits = _edits(tmp_path / "a")
    assert edits and edits == _edits(tmp_path / "b")  # same seed → the same images (stored by content hash)
