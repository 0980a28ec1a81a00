"""Judging the labelled edits, once: every verdict is cached by what was judged and by whom.

The key is the judge's identity (provider, model, prompt version, temperature) and the two images'
bytes, the instruction and the type, so a rerun (a new threshold, more labels) pays only for new rows,
and a changed judge or prompt is judged afresh. Transient failures are retried; what still fails is a
judge failure for that row — recorded, never a score.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from editforge import taxonomy
from editforge.calibrate.labels import LabelRow
from editforge.images import PhotoError, read_photo
from editforge.models.base import Judge, ModelCallError, TransientModelError
from editforge.models.prices import PriceTable
from editforge.records import Scores, Usage


@dataclass
class Judged:
    row: LabelRow
    status: str  # scored | abstained | failed
    scores: Scores | None
    rationale: str
    raw: str
    cost_usd: float = 0.0
    cached: bool = False
    retryable: bool = False  # the judge could not be reached: not cached, a rerun tries again

    @property
    def score(self) -> float | None:
        return self.scores.weighted() if self.scores is not None else None


class VerdictCache:
    """A small SQLite table of verdicts, beside the labels unless told otherwise."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, verdict TEXT NOT NULL)")

    def get(self, key: str) -> dict | None:
        row = self.db.execute("SELECT verdict FROM verdicts WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, verdict: dict) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO verdicts VALUES (?, ?)", (key, json.dumps(verdict)))

    def close(self) -> None:
        self.db.close()


def cache_key(judge: Judge, row: LabelRow) -> str:
    digest = hashlib.sha256()
    ref = judge.ref
    for part in (ref.provider, ref.model, ref.prompt_version, str(ref.temperature), row.instruction, row.edit_type):
        digest.update(part.encode() + b"\0")
    for path in (row.source, row.edited):
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def judge_rows(
    judge: Judge,
    rows: Iterable[LabelRow],
    cache: VerdictCache,
    tries: int = 4,
    on_done: Callable[[Judged], None] | None = None,
) -> list[Judged]:
    """One Judged per row, in order; items labelled by several raters are judged once."""
    results = []
    seen: dict[str, Judged] = {}
    for row in rows:
        key = cache_key(judge, row)
        if key in seen:
            hit = seen[key]
            result = Judged(row, hit.status, hit.scores, hit.rationale, hit.raw, 0.0, cached=hit.cached)
        elif (stored := cache.get(key)) is not None:
            result = _from_cache(row, stored)
        else:
            result = _judge_one(judge, row, tries)
            if not result.retryable:
                cache.put(key, _to_cache(result))
        seen.setdefault(key, result)
        results.append(result)
        if on_done is not None:
            on_done(result)
    return results


def _judge_one(judge: Judge, row: LabelRow, tries: int) -> Judged:
    try:
        source, edited = read_photo(row.source), read_photo(row.edited)
    except PhotoError as exc:
        return Judged(row, "failed", None, f"line {row.line}: {exc}", "")
    try:
        for attempt in Retrying(
            retry=retry_if_exception_type(TransientModelError),
            stop=stop_after_attempt(tries),
            wait=wait_random_exponential(multiplier=0.5, max=20),
            reraise=True,
        ):
            with attempt:
                reply = judge.judge(source, edited, row.instruction, taxonomy.get(row.edit_type))
    except TransientModelError as exc:
        reason = f"judge unavailable after {tries} tries: {exc.reason}"
        return Judged(row, "failed", None, reason, "", retryable=True)
    except ModelCallError as exc:  # a reply that never parsed: billed, recorded, never a score
        return Judged(row, "failed", None, exc.reason, exc.raw, _cost(judge, getattr(exc, "usage", None)))
    cost = _cost(judge, reply.usage)
    if reply.scores is None:
        return Judged(row, "abstained", None, reply.abstain_reason or reply.rationale, reply.raw, cost)
    return Judged(row, "scored", reply.scores, reply.rationale, reply.raw, cost)


def _cost(judge: Judge, usage: Usage | None) -> float:
    return PriceTable().cost(judge.ref.model, usage) if usage is not None else 0.0


def _to_cache(result: Judged) -> dict:
    scores = result.scores.model_dump() if result.scores is not None else None
    return {"status": result.status, "scores": scores, "rationale": result.rationale, "raw": result.raw}


def _from_cache(row: LabelRow, stored: dict) -> Judged:
    scores = Scores.model_validate(stored["scores"]) if stored["scores"] else None
    return Judged(row, stored["status"], scores, stored["rationale"], stored["raw"], 0.0, cached=True)
