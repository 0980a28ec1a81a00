"""The run's memory: a SQLite ledger (WAL) of every photo, task, instruction, attempt and verdict.

Everything a model produced is written here the moment it finishes, so a killed run resumes where it
stopped and never asks a model twice for something it already answered. Records are stored as their
JSON, with a few columns pulled out for queries. Only one process (the runner) writes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from editforge.records import Attempt, Instruction, ModelRef, Photo, Session, SourceFailure, Task, Usage, Verdict

TaskStatus = Literal["planned", "passed", "failed", "error"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS photos (
    photo_id TEXT PRIMARY KEY, uri TEXT NOT NULL, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS photo_uris (uri TEXT PRIMARY KEY, photo_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS source_failures (
    uri TEXT PRIMARY KEY, reason TEXT NOT NULL, retryable INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, photo_id TEXT NOT NULL, edit_type TEXT NOT NULL,
    session_id TEXT, status TEXT NOT NULL DEFAULT 'planned', reason TEXT, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS instructions (
    task_id TEXT NOT NULL, kind TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (task_id, kind));
CREATE TABLE IF NOT EXISTS attempts (
    attempt_id TEXT PRIMARY KEY, task_id TEXT NOT NULL, idx INTEGER NOT NULL, json TEXT NOT NULL,
    UNIQUE (task_id, idx));
CREATE TABLE IF NOT EXISTS verdicts (
    attempt_id TEXT PRIMARY KEY, task_id TEXT NOT NULL, passed INTEGER, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS judge_passes (
    attempt_id TEXT NOT NULL, sample INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (attempt_id, sample));
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT, role TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
    prompt_version TEXT NOT NULL, task_id TEXT, status TEXT NOT NULL, input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL, images INTEGER NOT NULL, cost_usd REAL NOT NULL,
    elapsed_s REAL NOT NULL, error TEXT, created REAL NOT NULL, possibly_billed INTEGER NOT NULL DEFAULT 0,
    device_seconds REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'planned',
    reason TEXT, json TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tasks_status ON tasks (status, seq);
CREATE INDEX IF NOT EXISTS tasks_session ON tasks (session_id, seq);
CREATE INDEX IF NOT EXISTS attempts_task ON attempts (task_id, idx);
CREATE INDEX IF NOT EXISTS verdicts_task ON verdicts (task_id);
"""

_TURN_FILTER = {None: "", True: "WHERE session_id IS NULL", False: "WHERE session_id IS NOT NULL"}


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we commit explicitly, one small transaction per finished piece of work.
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a process kill
        self.db.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Columns added since a ledger was made: a run from an older version resumes as it is."""
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(source_failures)")}
        if "retryable" not in columns:  # a ledger from before transient failures were told apart
            self.db.execute("ALTER TABLE source_failures ADD COLUMN retryable INTEGER NOT NULL DEFAULT 0")
        calls = {row[1] for row in self.db.execute("PRAGMA table_info(calls)")}
        if "possibly_billed" not in calls:
            # 1 for a call that timed out: the server may have done and billed it. Its row carries the
            # call's typical cost, so spend and the budget count it conservatively.
            self.db.execute("ALTER TABLE calls ADD COLUMN possibly_billed INTEGER NOT NULL DEFAULT 0")
        if "device_seconds" not in calls:  # accelerator time of a local model's call (0 for everything else)
            self.db.execute("ALTER TABLE calls ADD COLUMN device_seconds REAL NOT NULL DEFAULT 0")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Several writes that land together or not at all (a model's reply and its cost, say)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- meta ------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- photos ----------------------------------------------------------------------------------
    def add_photo(self, photo: Photo) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO photos (photo_id, uri, json) VALUES (?, ?, ?)",
                (photo.photo_id, photo.uri, photo.model_dump_json()),
            )
            self.db.execute(
                "INSERT OR REPLACE INTO photo_uris (uri, photo_id) VALUES (?, ?)", (photo.uri, photo.photo_id)
            )
            self.db.execute("DELETE FROM source_failures WHERE uri = ?", (photo.uri,))  # a retry that worked

    def photo_for_uri(self, uri: str) -> Photo | None:
        row = self.db.execute(
            "SELECT p.json FROM photo_uris u JOIN photos p USING (photo_id) WHERE u.uri = ?", (uri,)
        ).fetchone()
        return Photo.model_validate_json(row[0]) if row else None

    def photo_id_for_uri(self, uri: str) -> str | None:
        row = self.db.execute("SELECT photo_id FROM photo_uris WHERE uri = ?", (uri,)).fetchone()
        return row[0] if row else None

    def photo(self, photo_id: str) -> Photo:
        row = self.db.execute("SELECT json FROM photos WHERE photo_id = ?", (photo_id,)).fetchone()
        if row is None:
            raise KeyError(f"photo {photo_id} not in ledger")
        return Photo.model_validate_json(row[0])

    def photos(self) -> Iterator[Photo]:
        for (js,) in self.db.execute("SELECT json FROM photos ORDER BY photo_id"):
            yield Photo.model_validate_json(js)

    def add_source_failure(self, failure: SourceFailure) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO source_failures (uri, reason, retryable) VALUES (?, ?, ?)",
            (failure.uri, failure.reason, int(failure.retryable)),
        )

    def source_failures(self) -> list[SourceFailure]:
        rows = self.db.execute("SELECT uri, reason, retryable FROM source_failures ORDER BY uri")
        return [SourceFailure(uri=u, reason=r, retryable=bool(t)) for u, r, t in rows]

    def is_known_source(self, uri: str) -> bool:
        """Ingested, or failed for good; a photo whose failure was transient is not known: it is retried."""
        return (
            self.db.execute(
                "SELECT 1 FROM photo_uris WHERE uri = ?"
                " UNION SELECT 1 FROM source_failures WHERE uri = ? AND retryable = 0",
                (uri, uri),
            ).fetchone()
            is not None
        )

    # -- tasks -----------------------------------------------------------------------------------
    def add_tasks(self, tasks: list[Task]) -> int:
        """Insert planned tasks, ignoring ones already planned (a resumed run re-plans the same ids)."""
        with self.transaction():
            start = self.db.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM tasks").fetchone()[0]
            before = self.db.total_changes
            self.db.executemany(
                "INSERT OR IGNORE INTO tasks (task_id, seq, photo_id, edit_type, session_id, json)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (t.task_id, start + i, t.photo_id, t.edit_type, t.session_id, t.model_dump_json())
                    for i, t in enumerate(tasks)
                ],
            )
            return self.db.total_changes - before

    def tasks(self, status: TaskStatus | None = None, page: int = 1000) -> Iterator[Task]:
        """Tasks in plan order, read a page at a time: memory stays flat however many are planned, and
        the caller may write to the ledger (set statuses) while it iterates."""
        where = "AND status = ?" if status else ""
        last = -1
        while True:
            rows = self.db.execute(
                f"SELECT seq, json FROM tasks WHERE seq > ? {where} ORDER BY seq LIMIT ?",  # noqa: S608 - fixed text
                (last, status, page) if status else (last, page),
            ).fetchall()
            for seq, js in rows:
                last = seq
                yield Task.model_validate_json(js)
            if len(rows) < page:
                return

    def task_status(self, task_id: str) -> tuple[TaskStatus, str | None]:
        row = self.db.execute("SELECT status, reason FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        if row is None:
            raise KeyError(f"task {task_id} not in ledger")
        return row[0], row[1]

    def set_task_status(self, task_id: str, status: TaskStatus, reason: str | None = None) -> None:
        self.db.execute("UPDATE tasks SET status = ?, reason = ? WHERE task_id = ?", (status, reason, task_id))

    def planned_so_far(self) -> tuple[set[str], dict[str, int]]:
        """The photos with single-turn tasks planned, and how many of each type: what a resumed plan keeps."""
        photo_ids = {p for (p,) in self.db.execute("SELECT DISTINCT photo_id FROM tasks WHERE session_id IS NULL")}
        counts = self.db.execute("SELECT edit_type, COUNT(*) FROM tasks WHERE session_id IS NULL GROUP BY edit_type")
        return photo_ids, dict(counts.fetchall())

    def count_single_turn(self) -> tuple[int, int]:
        """(all, still planned) single-turn tasks: those outside any session."""
        total, planned = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(status = 'planned'), 0) FROM tasks WHERE session_id IS NULL"
        ).fetchone()
        return int(total), int(planned)

    def count_tasks(self, single_turn: bool | None = None) -> dict[str, int]:
        """Tasks by status: all of them, or only single-turn ones (True) or only session turns (False)."""
        where = _TURN_FILTER[single_turn]
        return dict(self.db.execute(f"SELECT status, COUNT(*) FROM tasks {where} GROUP BY status").fetchall())  # noqa: S608

    def counts_by_type(self, single_turn: bool | None = None) -> list[tuple[str, str, int]]:
        where = _TURN_FILTER[single_turn]
        return self.db.execute(
            f"SELECT edit_type, status, COUNT(*) FROM tasks {where} GROUP BY edit_type, status ORDER BY edit_type"  # noqa: S608
        ).fetchall()

    # -- sessions --------------------------------------------------------------------------------
    def add_sessions(self, sessions: list[Session]) -> int:
        with self.transaction():
            start = self.db.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM sessions").fetchone()[0]
            before = self.db.total_changes
            self.db.executemany(
                "INSERT OR IGNORE INTO sessions (session_id, seq, json) VALUES (?, ?, ?)",
                [(x.session_id, start + i, x.model_dump_json()) for i, x in enumerate(sessions)],
            )
            return self.db.total_changes - before

    def sessions(self, status: str | None = None) -> Iterator[Session]:
        query = "SELECT json FROM sessions" + (" WHERE status = ?" if status else "") + " ORDER BY seq"
        for (js,) in self.db.execute(query, (status,) if status else ()).fetchall():
            yield Session.model_validate_json(js)

    def set_session_status(self, session_id: str, status: str, reason: str | None = None) -> None:
        self.db.execute("UPDATE sessions SET status = ?, reason = ? WHERE session_id = ?", (status, reason, session_id))

    def session_status(self, session_id: str) -> str:
        return self.db.execute("SELECT status FROM sessions WHERE session_id = ?", (session_id,)).fetchone()[0]

    def count_sessions(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM sessions GROUP BY status").fetchall())

    def session_tasks(self, session_id: str) -> list[Task]:
        """A session's turn tasks (turn ≥ 2), in turn order."""
        rows = self.db.execute("SELECT json FROM tasks WHERE session_id = ? ORDER BY seq", (session_id,))
        return sorted((Task.model_validate_json(js) for (js,) in rows), key=lambda t: t.turn)

    def task(self, task_id: str) -> Task | None:
        row = self.db.execute("SELECT json FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        return Task.model_validate_json(row[0]) if row else None

    # -- model outputs ---------------------------------------------------------------------------
    def add_instruction(self, instruction: Instruction) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO instructions (task_id, kind, json) VALUES (?, ?, ?)",
            (instruction.task_id, instruction.kind, instruction.model_dump_json()),
        )

    def instruction(self, task_id: str, kind: str) -> Instruction | None:
        row = self.db.execute(
            "SELECT json FROM instructions WHERE task_id = ? AND kind = ?", (task_id, kind)
        ).fetchone()
        return Instruction.model_validate_json(row[0]) if row else None

    def add_attempt(self, attempt: Attempt) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO attempts (attempt_id, task_id, idx, json) VALUES (?, ?, ?, ?)",
            (attempt.attempt_id, attempt.task_id, attempt.index, attempt.model_dump_json()),
        )

    def attempts(self, task_id: str) -> list[Attempt]:
        rows = self.db.execute("SELECT json FROM attempts WHERE task_id = ? ORDER BY idx", (task_id,))
        return [Attempt.model_validate_json(js) for (js,) in rows]

    def add_verdict(self, verdict: Verdict) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO verdicts (attempt_id, task_id, passed, json) VALUES (?, ?, ?, ?)",
            (verdict.attempt_id, verdict.task_id, verdict.passed, verdict.model_dump_json()),
        )

    def add_judge_pass(self, verdict: Verdict) -> None:
        """One of several passes of a multi-pass judge: kept apart from the verdicts curation reads."""
        self.db.execute(
            "INSERT OR REPLACE INTO judge_passes (attempt_id, sample, json) VALUES (?, ?, ?)",
            (verdict.attempt_id, verdict.pass_index, verdict.model_dump_json()),
        )

    def judge_passes(self, attempt_id: str) -> dict[int, Verdict]:
        rows = self.db.execute("SELECT sample, json FROM judge_passes WHERE attempt_id = ?", (attempt_id,))
        return {sample: Verdict.model_validate_json(js) for sample, js in rows}

    def verdict(self, attempt_id: str) -> Verdict | None:
        row = self.db.execute("SELECT json FROM verdicts WHERE attempt_id = ?", (attempt_id,)).fetchone()
        return Verdict.model_validate_json(row[0]) if row else None

    def verdict_thresholds(self) -> set[float]:
        """The pass thresholds the run's verdicts were judged at (one, in a consistent run)."""
        rows = self.db.execute("SELECT DISTINCT json_extract(json, '$.threshold') FROM verdicts")
        return {float(t) for (t,) in rows if t is not None}

    def verdicts(self, task_id: str) -> dict[str, Verdict]:
        rows = self.db.execute("SELECT json FROM verdicts WHERE task_id = ?", (task_id,))
        return {v.attempt_id: v for v in (Verdict.model_validate_json(js) for (js,) in rows)}

    # -- calls: one row per model call, with what it cost ----------------------------------------
    def add_call(
        self,
        role: str,
        model: ModelRef,
        task_id: str | None,
        usage: Usage,
        elapsed_s: float,
        error: str | None = None,
        possibly_billed: bool = False,
    ) -> None:
        """One model call. `possibly_billed`: it timed out, so `usage` is its typical size, not a bill."""
        self.db.execute(
            "INSERT INTO calls (role, provider, model, prompt_version, task_id, status, input_tokens,"
            " output_tokens, images, cost_usd, elapsed_s, error, created, possibly_billed, device_seconds)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                role,
                model.provider,
                model.model,
                model.prompt_version,
                task_id,
                "timeout" if possibly_billed else "failed" if error else "ok",
                usage.input_tokens,
                usage.output_tokens,
                usage.images,
                usage.cost_usd,
                elapsed_s,
                error,
                time.time(),
                int(possibly_billed),
                usage.device_seconds,
            ),
        )

    def spent_usd(self) -> float:
        return float(self.db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM calls").fetchone()[0])

    def failed_spend(self) -> tuple[int, float]:
        """(calls, USD) of calls that were billed but gave nothing usable: refusals, unparseable replies."""
        calls, cost = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(cost_usd), 0) FROM calls WHERE status = 'failed' AND cost_usd > 0"
        ).fetchone()
        return int(calls), float(cost)

    def possibly_billed(self) -> tuple[int, float]:
        """(calls, USD counted) of calls that timed out and may have been billed."""
        calls, cost = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(cost_usd), 0) FROM calls WHERE possibly_billed = 1"
        ).fetchone()
        return int(calls), float(cost)

    def device_seconds_by_type(self) -> dict[str, float]:
        """Accelerator seconds local models spent, per edit type (failed calls and retries included)."""
        rows = self.db.execute(
            "SELECT t.edit_type, SUM(c.device_seconds) FROM calls c JOIN tasks t USING (task_id)"
            " WHERE c.device_seconds > 0 GROUP BY t.edit_type"
        )
        return {edit_type: float(seconds) for edit_type, seconds in rows}

    def cost_by_type(self) -> dict[str, float]:
        rows = self.db.execute(
            "SELECT t.edit_type, SUM(c.cost_usd) FROM calls c JOIN tasks t USING (task_id) GROUP BY t.edit_type"
        )
        return {edit_type: float(cost) for edit_type, cost in rows}

    def count(
        self, table: Literal["photos", "attempts", "verdicts", "instructions", "source_failures", "calls"]
    ) -> int:
        return self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names
