"""What a report shows, collected from a run's ledger or from a Pico-Banana-400K manifest.

`run_stats` reads the counts that the plots need (tasks by type and status, every verdict's scores,
attempts per task, turns per session, cost) with a few queries; `run_rows` streams one gallery row per
example — a passing task (SFT, plus preference when failed attempts came first), a multi-turn session,
or a task whose attempts all failed — in plan order. report/manifest.py does the same for the release's
JSONL files, which carry no scores.

An image in a row is `{"path": "/abs/file"}` (local: the gallery makes a thumbnail) or `{"url": ...}`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from editforge import taxonomy
from editforge.dataset import FINISHED_SESSIONS
from editforge.records import CRITERIA, Attempt, Instruction, Photo, Task, Verdict
from editforge.stages.curate import curate
from editforge.stages.labels import content_labels
from editforge.store.ledger import Ledger

BINS = 50  # score histograms: 0.02 wide over [0, 1], so a 0.7 threshold falls on a bin edge
SCORE_KEYS = (*CRITERIA, "score")
Locate = Callable[[str], dict]  # an image's name in the run → the row's image ({"path": ...} or {"missing": ...})


@dataclass
class Stats:
    title: str
    mode: str  # "run" or "picobanana"
    type_status: dict[str, Counter[str]] = field(default_factory=dict)  # type key -> status -> tasks
    histograms: dict[str, np.ndarray] = field(default_factory=dict)  # SCORE_KEYS -> BINS counts
    score_sums: dict[str, float] = field(default_factory=dict)
    scored: int = 0  # verdicts with scores
    verdict_status: Counter[str] = field(default_factory=Counter)  # scored / abstained / failed
    thresholds: Counter[float] = field(default_factory=Counter)
    attempts_per_task: dict[str, Counter[int]] = field(default_factory=dict)  # task status -> n -> tasks
    turns_per_session: Counter[int] = field(default_factory=Counter)  # accepted turns -> sessions
    spent_usd: float = 0.0
    cost_by_type: dict[str, float] = field(default_factory=dict)
    files: dict[str, Counter[str]] = field(default_factory=dict)  # picobanana: manifest kind -> type -> rows
    rejected_per_row: Counter[int] = field(default_factory=Counter)  # picobanana preference rows
    notes: list[str] = field(default_factory=list)
    bad_rows: list[str] = field(default_factory=list)  # picobanana: "file:line: why" for each row skipped
    images_missing: int = 0  # picobanana: image references found neither under --images nor as a URL

    @property
    def threshold(self) -> float | None:
        return self.thresholds.most_common(1)[0][0] if self.thresholds else None

    def pass_rate(self, key: str) -> float | None:
        c = self.type_status.get(key, Counter())
        judged = c["passed"] + c["failed"]
        return c["passed"] / judged if judged else None

    def category_status(self) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = {}
        for key, counts in self.type_status.items():
            out.setdefault(taxonomy.get(key).category, Counter()).update(counts)
        return {c: out[c] for c in taxonomy.categories() if c in out}

    def category_pass_rate(self, category: str) -> float | None:
        c = self.category_status().get(category, Counter())
        judged = c["passed"] + c["failed"]
        return c["passed"] / judged if judged else None

    def kept(self) -> int:
        return sum(c["passed"] for c in self.type_status.values())

    def cost_per_kept(self) -> float | None:
        kept = self.kept()
        return self.spent_usd / kept if self.spent_usd and kept else None


def paper_category_rate(category: str) -> float | None:
    """The paper's rate for a category: the count-weighted mean of its types' known rates."""
    known = [t for t in taxonomy.by_category(category) if t.paper_success_rate is not None]
    total = sum(t.paper_count for t in known)
    return sum(t.paper_count * t.paper_success_rate for t in known) / total if total else None  # type: ignore[operator]


def _bin(value: float) -> int:
    return min(BINS - 1, max(0, int(value * BINS + 1e-9)))


# -- a run's ledger --------------------------------------------------------------------------------
def run_stats(ledger: Ledger, title: str) -> Stats:
    stats = Stats(title=title, mode="run")
    for key, status, n in ledger.counts_by_type():
        stats.type_status.setdefault(key, Counter())[status] += n
    stats.histograms = {k: np.zeros(BINS, dtype=np.int64) for k in SCORE_KEYS}
    stats.score_sums = dict.fromkeys(SCORE_KEYS, 0.0)
    for (js,) in ledger.db.execute("SELECT json FROM verdicts"):
        v = json.loads(js)
        stats.verdict_status[v["status"]] += 1
        if v["status"] != "scored" or not v.get("scores"):
            continue
        stats.scored += 1
        stats.thresholds[float(v.get("threshold", 0.7))] += 1
        values = {**v["scores"], "score": sum(v["scores"][k] * w for k, w in CRITERIA.items())}
        for k in SCORE_KEYS:
            stats.histograms[k][_bin(values[k])] += 1
            stats.score_sums[k] += values[k]
    rows = ledger.db.execute(
        "SELECT t.status, COUNT(a.attempt_id) FROM tasks t LEFT JOIN attempts a USING (task_id)"
        " WHERE t.status != 'planned' GROUP BY t.task_id"
    )
    for status, n in rows:
        stats.attempts_per_task.setdefault(status, Counter())[n] += 1
    stats.spent_usd = ledger.spent_usd()
    stats.cost_by_type = ledger.cost_by_type()
    if ledger.get_meta("imported_from") == "pico-banana-400k":  # editforge import picobanana
        stats.notes.append(
            "Imported from the Pico-Banana-400K release, which keeps only edits that passed its judge: every "
            "imported task shows as passed, next to the paper's per-type rates; rejected images are the "
            "preference rows' failed attempts. The release has no judge scores, so no score is plotted. "
            "Multi-turn turns have no edit type in the release ('unspecified')."
        )
    planned = sum(c["planned"] for c in stats.type_status.values())
    if planned:
        stats.notes.append(f"{planned} tasks are still planned (the run is unfinished); they are left out.")
    if not stats.spent_usd:
        stats.notes.append("No model call had a cost (offline models or no price): no cost plot.")
    return stats


def _ref(model) -> str:  # noqa: ANN001 - a ModelRef
    return model.label() if model is not None else ""


def _verdict_fields(verdict: Verdict | None) -> dict:
    if verdict is None:
        return {"score": None, "scores": None, "rationale": ""}
    return {
        "score": verdict.score,
        "scores": verdict.scores.model_dump() if verdict.scores else None,
        "rationale": verdict.rationale or ("judge " + verdict.status if verdict.status != "scored" else ""),
        "judge": _ref(verdict.model),
    }


def _attempt(locate: Locate, attempt: Attempt, verdict: Verdict | None, role: str) -> dict:
    fields = _verdict_fields(verdict)
    if attempt.status != "ok" or attempt.output_image is None:
        role, fields["rationale"] = "error", attempt.error or fields["rationale"] or "no image"
    return {
        "role": role,
        "index": attempt.index,
        "img": locate(attempt.output_image) if attempt.output_image else None,
        "editor": _ref(attempt.model),
        **fields,
    }


def _turn(
    locate: Locate, task: Task, long: Instruction | None, short: Instruction | None, attempts: list[dict]
) -> dict:
    kind = taxonomy.get(task.edit_type)
    judge = next((a.get("judge") for a in attempts if a.get("judge")), "")
    return {
        "turn": task.turn,
        "type": kind.key,
        "type_name": kind.release_name,
        "category": kind.category,
        "long": long.text if long else "",
        "short": short.text if short else "",
        "input": locate(task.input_image),
        "attempts": attempts,
        "models": {"writer": _ref(long.model if long else None), "rewriter": _ref(short.model if short else None),
                   "judge": judge},
    }  # fmt: skip


def _task_turn(ledger: Ledger, locate: Locate, task: Task) -> tuple[dict, list[str], float | None]:
    """One task as a gallery turn, the subsets it feeds, and its score (the pass, or the best failure)."""
    attempts, verdicts = ledger.attempts(task.task_id), ledger.verdicts(task.task_id)
    long, short = ledger.instruction(task.task_id, "long"), ledger.instruction(task.task_id, "short")
    examples = curate(task.task_id, attempts, verdicts)
    if examples:
        chosen = examples[0].chosen_attempt_id
        index = next(a.index for a in attempts if a.attempt_id == chosen)
        shown = [a for a in attempts if a.index <= index]
        rejected = {r for e in examples for r in e.rejected_attempt_ids}
        # An attempt before the pass that is not in the pair (no image, judge abstained or failed) is no
        # "rejected" example: shown as a failed attempt.
        roles = {
            a.attempt_id: "chosen" if a.attempt_id == chosen else "rejected" if a.attempt_id in rejected else "failed"
            for a in shown
        }
        subsets = [e.kind for e in examples]
        score = verdicts[chosen].score
    else:
        shown = attempts
        roles = {a.attempt_id: "failed" for a in attempts}
        subsets = ["failed"]
        scores = [verdicts[a.attempt_id].score for a in attempts if a.attempt_id in verdicts]
        score = max((s for s in scores if s is not None), default=None)
    # attempts before the pass without an image (refusals) are not rejected images: _attempt marks them
    turn_attempts = [_attempt(locate, a, verdicts.get(a.attempt_id), roles[a.attempt_id]) for a in shown]
    return _turn(locate, task, long, short, turn_attempts), subsets, score


def _source(photo: Photo) -> dict:
    return {"uri": photo.uri, "attribution": photo.attribution or "", "license": photo.license or ""}


def run_rows(ledger: Ledger, run_dir: Path, stats: Stats | None = None, locate: Locate | None = None) -> Iterator[dict]:
    """Gallery rows in plan order: single-turn examples and failed tasks, then multi-turn sessions. `locate`
    turns an image name into the row's image (report.store_images reads a run's image store); by default
    the image is the file under the run directory."""
    if locate is None:
        locate = lambda rel: {"path": str(run_dir / rel)}  # noqa: E731
    photos: dict[str, Photo] = {}

    def photo(photo_id: str) -> Photo:
        if photo_id not in photos:
            photos[photo_id] = ledger.photo(photo_id)
        return photos[photo_id]

    statuses = dict(ledger.db.execute("SELECT task_id, status || '|' || COALESCE(reason, '') FROM tasks"))
    for task in ledger.tasks():
        status, _, reason = statuses[task.task_id].partition("|")
        if status == "planned" or (status == "passed" and task.session_id is not None):
            continue  # unfinished, or a later turn shown with its session
        turn, subsets, score = _task_turn(ledger, locate, task)
        if status != "passed":
            subsets = ["failed"]
        p = photo(task.photo_id)
        yield {
            "status": status,
            "reason": reason,
            "subsets": subsets,
            "score": score,
            "labels": content_labels(_writer_labels(ledger, task.task_id), p.facts),
            "source": _source(p),
            "turns": [turn],
        }
    later: dict[str, list[Task]] = {}  # one pass over the tasks, not a scan per session
    query = "SELECT json FROM tasks WHERE json_extract(json, '$.session_id') IS NOT NULL ORDER BY seq"
    for (js,) in ledger.db.execute(query).fetchall():
        task = Task.model_validate_json(js)
        later.setdefault(task.session_id, []).append(task)  # type: ignore[arg-type]
    for session in ledger.sessions():
        turn_tasks = sorted(later.pop(session.session_id, []), key=lambda t: t.turn)
        turns = []
        for task in [ledger.task(session.first_task_id), *turn_tasks]:
            if task is None or not statuses.get(task.task_id, "").startswith("passed|"):
                continue
            turn, _, score = _task_turn(ledger, locate, task)
            turns.append((turn, score))
        if stats is not None:
            stats.turns_per_session[len(turns)] += 1
        if len(turns) < 2 or ledger.session_status(session.session_id) not in FINISHED_SESSIONS:
            continue  # not a multi-turn example (yet): the exports leave it out too
        p = photo(session.photo_id)
        scores = [s for _, s in turns if s is not None]
        yield {
            "status": "passed",
            "reason": "",
            "subsets": ["multi_turn"],
            "score": sum(scores) / len(scores) if scores else None,
            "labels": content_labels(_writer_labels(ledger, session.first_task_id), p.facts),
            "source": _source(p),
            "turns": [t for t, _ in turns],
        }


def _writer_labels(ledger: Ledger, task_id: str) -> list[str] | None:
    long = ledger.instruction(task_id, "long")
    return long.labels if long is not None else None
