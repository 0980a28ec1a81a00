from pathlib import Path

import numpy as np
import pytest

from editforge.records import Attempt, Instruction, ModelRef, Photo, Scores, SourceFailure, Task, Verdict
from editforge.store.files import open_atomic
from editforge.store.images import ImageStore
from editforge.store.ledger import Ledger
from editforge.store.lock import RunLock, RunLockedError

REF = ModelRef(provider="offline", model="m")


def test_images_are_stored_once_by_content(tmp_path: Path, astronaut: np.ndarray) -> None:
    store = ImageStore(tmp_path)
    first = store.put(astronaut)
    assert store.put(astronaut.copy()) == first
    assert first.startswith("images/") and len(list(tmp_path.rglob("*.png"))) == 1
    assert np.array_equal(store.get(first), astronaut)
    assert store.put(astronaut[::-1].copy()) != first


def test_store_refuses_paths_escaping_the_run(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="escapes"):
        ImageStore(tmp_path / "run").path("../../etc/passwd")


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "rows.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), open_atomic(target) as fh:
        fh.write("half a ro")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["rows.jsonl"]  # no temp file left behind


def _task(i: int) -> Task:
    return Task(task_id=f"t{i}", photo_id="p", edit_type="color_tone", seed=i, input_image="images/x.png")


def test_ledger_persists_every_record_and_ignores_replanned_tasks(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    photo = Photo(photo_id="p", uri="/a.jpg", image="images/x.png", width=2, height=2)
    with Ledger(path) as ledger:
        ledger.add_photo(photo)
        ledger.add_source_failure(SourceFailure(uri="/b.jpg", reason="/b.jpg: empty file"))
        assert ledger.add_tasks([_task(1), _task(2)]) == 2
        assert ledger.add_tasks([_task(2), _task(3)]) == 1
        ledger.add_instruction(Instruction(task_id="t1", kind="long", text="warmer", model=REF))
        attempt = Attempt(
            attempt_id="a1",
            task_id="t1",
            index=1,
            seed=1,
            instruction="warmer",
            status="ok",
            output_image="images/y.png",
            model=REF,
        )
        ledger.add_attempt(attempt)
        scores = Scores(instruction_compliance=1, seamlessness=1, preservation=1, technical_quality=1)
        ledger.add_verdict(Verdict(attempt_id="a1", task_id="t1", status="scored", scores=scores, model=REF))
        ledger.set_task_status("t1", "passed")
    with Ledger(path) as ledger:  # reopened: everything is still there
        assert ledger.photo_for_uri("/a.jpg") == photo
        assert ledger.is_known_source("/b.jpg") and not ledger.is_known_source("/c.jpg")
        assert [t.task_id for t in ledger.tasks()] == ["t1", "t2", "t3"]
        assert [t.task_id for t in ledger.tasks("planned")] == ["t2", "t3"]
        assert ledger.instruction("t1", "long").text == "warmer"
        assert ledger.attempts("t1") == [attempt]
        assert ledger.verdicts("t1")["a1"].passed is True
        assert ledger.count_tasks() == {"passed": 1, "planned": 2}


def test_second_run_on_a_directory_is_refused(tmp_path: Path) -> None:
    with RunLock(tmp_path), pytest.raises(RunLockedError, match="another editforge run"), RunLock(tmp_path):
        pass
    with RunLock(tmp_path):  # released: the next run may start
        pass


def test_the_image_cache_is_safe_to_share_between_threads(tmp_path: Path) -> None:
    """I/O threads share one store: a `get` racing another thread's eviction must not raise."""
    import threading
    import time
    from collections import OrderedDict

    class SlowCache(OrderedDict):  # widens the gap between a lookup and what follows it
        def get(self, key, default=None):  # noqa: ANN001, ANN202
            found = super().get(key, default)
            time.sleep(0.0005)
            return found

    store = ImageStore(tmp_path, cache_size=1)
    images = [np.full((4, 4, 3), i, dtype=np.uint8) for i in range(2)]
    paths = [store.put(image) for image in images]
    store._cache = SlowCache(store._cache)
    errors: list[BaseException] = []

    def hammer(offset: int) -> None:
        try:
            for i in range(200):
                k = (i // 3 + offset) % 2
                assert store.get(paths[k])[0, 0, 0] == k
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_a_ledger_from_before_device_seconds_gains_the_column_and_sums_it(tmp_path: Path) -> None:
    import sqlite3

    from editforge.records import Usage

    path = tmp_path / "ledger.sqlite"
    old = sqlite3.connect(path)  # the calls table as an older editforge made it
    old.execute(
        "CREATE TABLE calls (id INTEGER PRIMARY KEY AUTOINCREMENT, role TEXT NOT NULL, provider TEXT NOT NULL,"
        " model TEXT NOT NULL, prompt_version TEXT NOT NULL, task_id TEXT, status TEXT NOT NULL,"
        " input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, images INTEGER NOT NULL,"
        " cost_usd REAL NOT NULL, elapsed_s REAL NOT NULL, error TEXT, created REAL NOT NULL)"
    )
    old.execute("INSERT INTO calls VALUES (1, 'editor', 'offline', 'e', '', 't1', 'ok', 0, 0, 1, 0, 0.1, NULL, 0)")
    old.commit()
    old.close()
    ref = ModelRef(provider="local", model="tiny-editor")
    with Ledger(path) as ledger:
        ledger.add_tasks([Task(task_id="t1", photo_id="p", edit_type="color_tone", seed=1, input_image="a.png")])
        ledger.add_call("editor", ref, "t1", Usage(images=1, device_seconds=1.5), 1.6)
        ledger.add_call("editor", ref, "t1", Usage(images=1, device_seconds=0.5), 0.6, error="refused")
        assert ledger.device_seconds_by_type() == {"color_tone": pytest.approx(2.0)}
        assert ledger.count("calls") == 3


@pytest.fixture
def umask_027():
    import os

    previous = os.umask(0o027)
    yield
    os.umask(previous)


def test_atomic_files_get_what_the_umask_gives(tmp_path: Path, umask_027: None) -> None:
    with open_atomic(tmp_path / "rows.jsonl") as fh:
        fh.write("{}\n")
    assert (tmp_path / "rows.jsonl").stat().st_mode & 0o777 == 0o640


def test_every_file_a_run_writes_is_as_shareable_as_the_umask_allows(
    tmp_path: Path, photo_dir: Path, umask_027: None
) -> None:
    from editforge.config import build_config
    from editforge.pipeline import run

    out = tmp_path / "run"
    config = {"images": photo_dir, "out": out, "per_photo": 1, "workers": 1, "exports": ["picobanana", "hf"]}
    run(build_config(config, {}), quiet=True)
    files = [p for p in out.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"sft.jsonl", "sft.meta.jsonl", "README.md"} <= names and any(p.suffix == ".png" for p in files)
    modes = {str(p.relative_to(out)): oct(p.stat().st_mode & 0o777) for p in files}
    assert {k: v for k, v in modes.items() if v != "0o640"} == {}
