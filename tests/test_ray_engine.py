"""The Ray engine makes the same dataset as the local engine, on one shared local Ray (4 logical CPUs).

Equivalence byte for byte (exports and images); the driver killed with SIGKILL at a random point and
rerun; a worker actor's process killed mid-run; hosted roles under one rate limit in the driver.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

ray = pytest.importorskip("ray")

from editforge.config import build_config  # noqa: E402
from editforge.engine.ray_runner import RayRunner  # noqa: E402
from editforge.models.registry import build_role  # noqa: E402
from editforge.pipeline import make_runner, run  # noqa: E402
from editforge.testing.fake_gemini import FakeGemini  # noqa: E402

EXPORTS = ("sft.jsonl", "preference.jsonl", "multi-turn.jsonl")
SETTINGS = {"per_photo": 3, "seed": 5, "workers": 2, "max_side": 192, "targets": {"multi_turn": 2}}


def _settings(out: Path, photos: Path, **more) -> dict:
    return {"out": str(out), "images": str(photos), **SETTINGS, **more}


def _release(out: Path) -> dict[str, bytes]:
    """What a user gets: the export files, and every image they name, by content."""
    files = {name: (out / name).read_bytes() for name in EXPORTS}
    for path in sorted((out / "images").rglob("*.png")) if (out / "images").is_dir() else []:
        files[str(path.relative_to(out))] = hashlib.sha256(path.read_bytes()).digest()
    return files


def _calls(out: Path) -> list[tuple]:
    db = sqlite3.connect(out / "ledger.sqlite")
    try:
        return sorted(db.execute("SELECT task_id, role, COUNT(*) FROM calls GROUP BY task_id, role").fetchall())
    finally:
        db.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, small_photos) -> tuple[Path, Path]:
    """An uninterrupted local-engine run: the dataset every Ray run must reproduce."""
    from PIL import Image

    root = tmp_path_factory.mktemp("ray-ref")
    photos = root / "photos"
    photos.mkdir()
    for i, (name, image) in enumerate(small_photos.items()):
        Image.fromarray(image).save(photos / f"{name}{'.jpg' if i % 2 else '.png'}", quality=92)
    summary = run(build_config(_settings(root / "local", photos), {}), quiet=True)
    assert summary.exported["sft"] and summary.exported["multi_turn"] == 2 and not summary.stopped
    return photos, root / "local"


def test_ray_and_local_engines_make_the_same_release(ray_cluster, reference, tmp_path: Path) -> None:
    photos, local = reference
    config = build_config(_settings(tmp_path / "ray", photos, engine="ray"), {})
    runner = make_runner(config, quiet=True)
    assert isinstance(runner, RayRunner)
    summary = run(config, quiet=True)
    assert not summary.stopped and summary.counts.get("planned", 0) == 0
    assert _release(tmp_path / "ray") == _release(local)
    assert _calls(tmp_path / "ray") == _calls(local)  # no call made or recorded twice


def test_a_run_made_by_one_engine_resumes_and_exports_under_the_other(ray_cluster, reference, tmp_path: Path) -> None:
    photos, local = reference
    out = tmp_path / "mixed"
    half = build_config(_settings(out, photos, targets={"sft": 4}), {})  # the local engine stops early
    run(half, quiet=True)
    assert len((out / "sft.jsonl").read_text().splitlines()) < len((local / "sft.jsonl").read_text().splitlines())
    run(build_config(_settings(out, photos, engine="ray"), {}), quiet=True)
    assert _release(out) == _release(local)


def test_the_driver_killed_at_a_random_point_resumes_to_the_same_release(
    ray_cluster: str, reference, tmp_path: Path
) -> None:
    photos, local = reference
    out = tmp_path / "killed"
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(_settings(out, photos, engine="ray", ray_address=ray_cluster)))
    command = [sys.executable, "-m", "editforge", "run", str(config), "-q"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    wanted = random.Random(os.getpid()).randint(1, len(_calls(local)) // 2)  # calls committed before the kill
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and _committed(out) < wanted:
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before the kill: {proc.stderr.read().decode()[-2000:]}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _committed(out) < len(_calls(local)) + 10
    done = subprocess.run(command, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert _release(out) == _release(local)


def _committed(out: Path) -> int:
    if not (out / "ledger.sqlite").exists():
        return 0
    db = sqlite3.connect(out / "ledger.sqlite")
    try:
        return db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    except sqlite3.OperationalError:  # killed before the schema existed
        return 0
    finally:
        db.close()


def test_a_worker_actor_killed_mid_run_loses_nothing(ray_cluster, reference, tmp_path: Path) -> None:
    """SIGKILL one actor's process while it holds calls: they go to another actor; the run ends with every
    task accounted for and the same release, nothing recorded twice. Images go to a file:// store."""
    photos, local = reference
    out, store = tmp_path / "worker-killed", tmp_path / "bucket"
    config = build_config(_settings(out, photos, engine="ray", images_uri=store.as_uri()), {})
    runner = RayRunner(config, quiet=True)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("summary", runner.run()))
    thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _committed(out) < 8:
        time.sleep(0.02)
    pool = runner.pools["cpu"]
    victim = pool.pids()[0]
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=300)
    summary = result["summary"]
    assert not summary.stopped and summary.counts.get("planned", 0) == 0
    assert pool.lost_actors >= 1 and pool.resent >= 1, "the kill hit no call: nothing was tested"
    assert summary.counts == _counts(local)
    assert _calls(out) == _calls(local)
    assert not (out / "images").exists()  # every pixel went to the store, none through the run directory
    theirs = {f"images/{p.relative_to(store / 'images')}" for p in (store / "images").rglob("*.png")}
    assert theirs == {str(p.relative_to(local)) for p in (local / "images").rglob("*.png")}
    again = run(config, quiet=True)  # a finished run: nothing to do but export (reading the file:// store)
    assert again.counts == summary.counts and _calls(out) == _calls(local)
    for name in EXPORTS:
        assert (out / name).read_bytes() == (local / name).read_bytes()


def _counts(out: Path) -> dict[str, int]:
    from editforge.store.ledger import Ledger

    with Ledger(out / "ledger.sqlite") as ledger:
        return ledger.count_tasks()


def test_hosted_roles_stay_in_the_driver_under_one_rate_limit(
    ray_cluster, reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hosted calls are made by the driver's threads, never by an actor: one limiter per model for the
    whole cluster. The server's quota equals the configured limit, and it never had to refuse a call."""
    photos, _ = reference
    key = "AIzaTEST-ray-engine-key-0123456789"
    rpm = 240
    with FakeGemini(api_key=key, rate_limit_rpm=rpm, rate_limit_burst_s=1.0) as server:
        monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
        monkeypatch.setenv("GEMINI_API_KEY", key)
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.base_url)
        roles = {role: {"provider": "gemini"} for role in ("writer", "rewriter", "editor", "judge")}
        names = {build_role(role, "gemini").ref.model for role in roles}
        limits = {name: {"rpm": rpm * 0.8, "concurrency": 4} for name in names}  # under the server's quota
        settings = _settings(tmp_path / "hosted", photos, engine="ray", roles=roles, limits=limits)
        settings.update(per_photo=2, targets={}, photos=2, retries={"max_tries": 8, "base_s": 0.01})
        runner = make_runner(build_config(settings, {}), quiet=True)
        summary = runner.run()
        assert not summary.stopped and summary.counts.get("passed", 0) > 0
        assert set(runner.pools) == {"cpu"}  # no actor pool for a hosted role
        assert server.count(fault="rate_limit") == 0
        assert server.paid_twice() == []


def test_a_device_role_runs_in_batches_on_its_own_actor_pool_and_survives_its_death_mid_batch(
    ray_cluster, reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The editor as a device role (the test device provider of tests/device_support.py: the offline
    editor's pixels behind a batch-only `edit_many`) gets its own pool; concurrent calls from many tasks
    meet in the actor's batcher. The first actor's process exits in the middle of its first batch: the
    batch's calls go to a new actor, and the release is still the offline editor's, call for call."""
    import json
    import re

    from editforge.models import registry

    photos, local = reference
    monkeypatch.setitem(registry.PROVIDERS, "testdevice", "device_support")
    options = {"batch_size": 4, "batch_wait_s": 0.1, "sleep_s": 0.05, "crash_once": True, "state_dir": str(tmp_path)}
    editor = {"provider": "testdevice", "options": options}
    pool = {"num_gpus": 0, "num_cpus": 0.5, "max_actors": 1}  # a CPU stand-in for a GPU actor
    out = tmp_path / "device"
    config = build_config(
        _settings(out, photos, engine="ray", roles={"editor": editor}, ray={"roles": {"editor": pool}}), {}
    )
    runner = make_runner(config, quiet=True)
    summary = runner.run()
    assert not summary.stopped and summary.counts == _counts(local)
    assert set(runner.pools) == {"cpu", "editor"}
    died = runner.pools["editor"]
    assert (tmp_path / "crashed").exists() and died.lost_actors == 1 and died.resent >= 1 and died.started == 2
    assert _calls(out) == _calls(local)  # nothing recorded twice, nothing missing
    db = sqlite3.connect(out / "ledger.sqlite")
    raws = [json.loads(row[0])["raw_reply"] for row in db.execute("SELECT json FROM attempts")]
    db.close()
    sizes = [int(re.search(r"batch=(\d+)", raw)[1]) for raw in raws]  # type: ignore[index]
    pids = {int(re.search(r"pid=(\d+)", raw)[1]) for raw in raws}  # type: ignore[index]
    assert max(sizes) > 1, sizes  # calls of different tasks were edited together
    assert os.getpid() not in pids and len(pids) == 1  # all from the second editor actor, none in the driver
    ours = {str(p.relative_to(out)) for p in (out / "images").rglob("*.png")}
    assert ours == {str(p.relative_to(local)) for p in (local / "images").rglob("*.png")}


def test_local_models_run_on_their_actors_under_ray(ray_cluster, reference, tiny_model, tmp_path: Path) -> None:
    """Tiny random-weight local models (saved folders, loaded the way a downloaded model is): a Qwen-Image-Edit
    class editor and a Qwen2 rewriter, each on its own device pool. Their outputs are garbage, so the
    release is not compared: every task must end accounted for, with the local models' calls recorded."""
    pytest.importorskip("diffusers")
    from editforge.testing.tiny_editors import TINY_EDITOR_OPTIONS

    photos, _ = reference
    roles = {
        "editor": {"provider": "local", "model": str(tiny_model("qwen_image_edit_plus")),
                   "options": {**TINY_EDITOR_OPTIONS["qwen_image_edit_plus"], "devices": ["cpu"]}},
        "rewriter": {"provider": "local", "model": str(tiny_model("lm")),
                     "options": {"max_new_tokens": 16, "devices": ["cpu"], "batch_size": 4}},
    }  # fmt: skip
    cpu_actor = {"num_gpus": 0, "num_cpus": 0.5, "max_actors": 1}
    out = tmp_path / "local-models"
    settings = _settings(out, photos, engine="ray", roles=roles, ray={"roles": dict.fromkeys(roles, cpu_actor)})
    settings.update(photos=2, per_photo=2, max_attempts=2, targets={})
    runner = make_runner(build_config(settings, {}), quiet=True)
    summary = runner.run()
    assert not summary.stopped and summary.counts.get("planned", 0) == 0 and summary.tasks == 4
    assert set(runner.pools) == {"cpu", "editor", "rewriter"}
    db = sqlite3.connect(out / "ledger.sqlite")
    providers = dict(db.execute("SELECT role, provider FROM calls WHERE role IN ('editor', 'rewriter')").fetchall())
    db.close()
    assert providers == {"editor": "local", "rewriter": "local"}
    assert runner.batch_stats["rewriter"][0]["items"] >= 1  # the rewriter's calls went through its batcher
    assert runner.batch_stats["editor"][0]["largest_batch"] == 1  # Qwen edit pipelines take one photo a call
