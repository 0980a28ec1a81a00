"""Building local roles: cheap (no weights, no torch in the runner), weights found in a folder or in the
Hugging Face cache (never downloaded), and every way of not finding them is one clear line."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")  # the `local` extra (CI installs it)

from editforge import taxonomy  # noqa: E402
from editforge.models.registry import PROVIDERS, ProviderError, build_role

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _python(code: str, env: dict[str, str] | None = None) -> str:
    environment = {**os.environ, "PYTHONPATH": SRC, **(env or {})}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_local_is_a_provider_with_every_role(tiny_model) -> None:
    assert PROVIDERS["local"] == "editforge.models.local.provider"
    for role, kind in (("writer", "vlm"), ("judge", "vlm"), ("rewriter", "lm")):
        built = build_role(role, "local", str(tiny_model(kind)))
        assert built.ref.provider == "local" and built.ref.model == str(tiny_model(kind))
        assert built.execution == "device" and built.devices == ["auto"]
        assert built.max_batch == 8 and built.batch_wait_s == 0.05 and built.batch_note is None
        assert built.supported_types == frozenset(taxonomy.keys())


def test_the_default_models_are_named_without_building_anything() -> None:
    from editforge.engine.estimate import model_for

    assert model_for("local", "writer", None) == model_for("local", "judge", None) == "Qwen/Qwen3-VL-8B-Instruct"
    assert model_for("local", "rewriter", None) == "Qwen/Qwen2.5-7B-Instruct"
    assert model_for("local", "editor", None).startswith("Qwen/Qwen-Image-Edit")


def test_placement_options(tiny_model) -> None:
    judge = build_role(
        "judge", "local", str(tiny_model("vlm")), {"devices": "cuda:0, cuda:1", "batch_size": 16, "batch_wait_s": 0.2}
    )
    assert judge.devices == ["cuda:0", "cuda:1"] and judge.max_batch == 16 and judge.batch_wait_s == 0.2
    for bad in ({"batch_size": 0}, {"dtype": "fp8"}, {"devices": []}, {"temperture": 0.5}, {"prompt": "vqa"}):
        with pytest.raises(ProviderError, match="local judge"):
            build_role("judge", "local", str(tiny_model("vlm")), bad)


def test_building_is_cheap_and_the_runner_never_imports_torch(tiny_model) -> None:
    code = (
        "import sys\nfrom editforge.models.registry import build_role\n"
        f"for role, path in (('writer', {str(tiny_model('vlm'))!r}), ('judge', {str(tiny_model('vlm'))!r}),"
        f" ('rewriter', {str(tiny_model('lm'))!r})):\n"
        "    r = build_role(role, 'local', path, {'batch_size': 4})\n"
        "    assert r.max_batch == 4, r\n"
        "print(','.join(m for m in ('torch', 'transformers', 'diffusers', 'peft') if m in sys.modules))"
    )
    assert _python(code).strip() == ""


def test_an_offline_run_imports_no_heavy_extra(tmp_path: Path, photo_dir: Path) -> None:
    code = (
        "import sys\nfrom editforge.cli import main\n"
        f"sys.argv = ['editforge', 'run', '--images', {str(photo_dir)!r}, '--out', {str(tmp_path / 'run')!r},"
        " '--photos', '1', '--per-photo', '1', '--workers', '1', '--quiet']\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print(','.join(m for m in ('torch', 'transformers', 'diffusers', 'ray') if m in sys.modules))"
    )
    assert _python(code).strip().splitlines()[-1:] in ([], [""])
    assert (tmp_path / "run").is_dir()


def test_a_hub_id_missing_from_the_cache_is_one_line() -> None:
    with pytest.raises(ProviderError) as caught:
        build_role("judge", "local", "editforge-tests/no-such-model")
    message = str(caught.value)
    assert "\n" not in message and "editforge-tests/no-such-model" in message
    assert "hf download editforge-tests/no-such-model" in message and "local folder" in message


@pytest.mark.parametrize("model", ["./no/such/folder", "/nowhere/model", "not a model id"])
def test_a_missing_folder_is_one_line(model: str) -> None:
    with pytest.raises(ProviderError, match="does not exist") as caught:
        build_role("writer", "local", model)
    assert "\n" not in str(caught.value)


def test_a_folder_that_is_no_model_says_so(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="has no config.json"):
        build_role("rewriter", "local", str(tmp_path))


def test_a_text_only_model_is_refused_as_writer_or_judge(tiny_model) -> None:
    for role in ("writer", "judge"):
        with pytest.raises(ProviderError, match="not a vision-language model"):
            build_role(role, "local", str(tiny_model("lm")))


def test_a_missing_extra_names_the_install(tiny_model, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = str(tiny_model("lm"))
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if the extra were not installed
    with pytest.raises(ProviderError, match=r"pip install 'editforge\[local\]'"):
        build_role("rewriter", "local", folder)


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(ProviderError, match="no role"):
        build_role("painter", "local", None)  # type: ignore[arg-type]


def test_a_role_travels_to_a_worker_without_its_weights(tiny_model) -> None:
    rewriter = build_role("rewriter", "local", str(tiny_model("lm")), {"devices": ["cpu"]})
    rewriter.load("cpu")
    blob = pickle.dumps(rewriter)
    assert len(blob) < 20_000  # the weights stay behind
    arrived = pickle.loads(blob)
    assert arrived._model is None and arrived.ref == rewriter.ref


def _fake_hub_cache(hub: Path, repo_id: str, folder: Path, commit: str = "0123456789abcdef" * 2 + "01234567") -> None:
    """The layout `hf download` leaves: blobs, snapshots/<commit>/ of links to them, refs/main → commit."""
    repo = hub / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for index, file in enumerate(sorted(folder.iterdir())):
        blob = repo / "blobs" / f"blob{index:04d}"
        shutil.copyfile(file, blob)
        (snapshot / file.name).symlink_to(os.path.relpath(blob, snapshot))


def test_a_hub_id_is_found_in_the_cache_offline(tiny_model, tmp_path: Path) -> None:
    """HF_HOME + HF_HUB_OFFLINE=1, a model id as a user writes it: found, loaded and run; no network."""
    _fake_hub_cache(tmp_path / "hf" / "hub", "tiny-org/tiny-vl", tiny_model("vlm"))
    code = (
        "import numpy as np\nfrom editforge import taxonomy\nfrom editforge.models.registry import build_role\n"
        "judge = build_role('judge', 'local', 'tiny-org/tiny-vl', {'max_new_tokens': 8, 'retries': 0})\n"
        "print(judge.ref.model, judge.resolved.path.parent.name)\n"
        "image = np.full((64, 64, 3), 128, np.uint8)\n"
        "(reply,) = judge.judge_many([image], [image], ['add a hat'], [taxonomy.get('color_tone')])\n"
        "print(type(reply).__name__, reply.usage.output_tokens > 0)\n"
        "try:\n    build_role('judge', 'local', 'tiny-org/not-downloaded')\n"
        "except Exception as exc:\n    print(exc)\n"
    )
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    lines = _python(code, env).strip().splitlines()
    assert lines[0] == "tiny-org/tiny-vl snapshots"
    assert lines[1] == "ReplyError True"  # random weights: loaded, ran, and recorded a judge failure
    assert "hf download tiny-org/not-downloaded" in lines[2] and str(tmp_path / "hf" / "hub") in lines[2]
