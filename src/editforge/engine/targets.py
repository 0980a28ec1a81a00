"""Mix targets: how many SFT, preference and multi-turn examples a run aims for, and how far it got.

What counts is what the exporters write: the same `curate` for single-turn examples and the same rule
for sessions (finished, at least two accepted turns, `dataset.session_is_example`). Made examples are
kept as sets of ids, so a task or session seen again after a resume is never counted twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from editforge.config import Targets
from editforge.dataset import session_is_example
from editforge.records import Session, Task
from editforge.stages.curate import curate
from editforge.store.ledger import Ledger

KINDS = ("sft", "preference", "multi_turn")
# A type is put off when, after MIN_TRIED finished tasks, it passes at under POOR_SHARE of the rate of
# all other types together (which must have MIN_TRIED finished tasks too).
MIN_TRIED = 4
POOR_SHARE = 0.5


@dataclass
class Goals:
    targets: Targets
    _made: dict[str, set[str]] = field(default_factory=lambda: {kind: set() for kind in KINDS})
    tried: Counter[str] = field(default_factory=Counter)  # finished single-turn tasks, per type
    passed: Counter[str] = field(default_factory=Counter)
    put_off: dict[str, str] = field(default_factory=dict)  # type → why, for the summary

    @classmethod
    def from_ledger(cls, targets: Targets, ledger: Ledger) -> Goals:
        goals = cls(targets)
        for task in ledger.tasks("passed"):
            if task.session_id is None:
                goals.record_task(ledger, task.task_id)
        for edit_type, status, n in ledger.counts_by_type():
            if status != "planned":
                goals.tried[edit_type] += n
                goals.passed[edit_type] += n if status == "passed" else 0
        for session in ledger.sessions():
            goals.record_session(ledger, session)
        return goals

    @property
    def made(self) -> dict[str, int]:
        return {kind: len(ids) for kind, ids in self._made.items()}

    def record_task(self, ledger: Ledger, task_id: str) -> None:
        for example in curate(task_id, ledger.attempts(task_id), ledger.verdicts(task_id)):
            self._made[example.kind].add(task_id)

    def record_session(self, ledger: Ledger, session: Session) -> None:
        if session_is_example(ledger, session):
            self._made["multi_turn"].add(session.session_id)

    def record_outcome(self, edit_type: str, status: str) -> None:
        self.tried[edit_type] += 1
        self.passed[edit_type] += status == "passed"

    def poor(self, edit_type: str) -> bool:
        """Whether `edit_type` passes in this run far less often than the other types do."""
        tried, others = self.tried[edit_type], sum(self.tried.values()) - self.tried[edit_type]
        if tried < MIN_TRIED or others < MIN_TRIED:
            return False
        rate = self.passed[edit_type] / tried
        rest = (sum(self.passed.values()) - self.passed[edit_type]) / others
        if rate < POOR_SHARE * rest:
            self.put_off[edit_type] = f"{rate:.0%} of its tasks passed vs {rest:.0%} for the other types"
            return True
        return False

    def scheduled(self, tasks: Iterable[Task]) -> Iterator[Task]:
        """Tasks in plan order, except that while a single-turn target is set (it asks for so many
        examples, of any type), tasks of a type far below the others' pass rate in this run wait until
        the end: the target fills from types that pass, and the poor type is tried only if it must be.
        Without a target every planned task is run, in order. Edits are most of the spend, so an edit
        unlikely to pass is the costliest thing a run can buy."""
        if self.targets.sft is None and self.targets.preference is None:
            yield from tasks
            return
        later: list[Task] = []
        for task in tasks:
            if self.poor(task.edit_type):
                later.append(task)
            else:
                yield task
        yield from later

    def single_turn_met(self) -> bool:
        """True once every single-turn target set is met (no target set: run every planned task)."""
        wanted = {k: getattr(self.targets, k) for k in ("sft", "preference")}
        if all(v is None for v in wanted.values()):
            return False
        made = self.made
        return all(v is None or made[k] >= v for k, v in wanted.items())

    def sessions_wanted(self) -> int:
        return max(0, (self.targets.multi_turn or 0) - self.made["multi_turn"])

    def report(self, stopped: str | None = None, deferred: int = 0) -> list[str]:
        """One line per target set: made / wanted, and whether it was met (and if not, why not)."""
        if stopped:
            why = "the run stopped early"
        elif deferred:
            why = f"{deferred} tasks or sessions deferred; run the same command again to retry them"
        else:
            why = "photos or starters ran out"
        lines = []
        made = self.made
        for kind in KINDS:
            wanted = getattr(self.targets, kind)
            if wanted is not None:
                mark = "met" if made[kind] >= wanted else f"NOT met: {why}"
                lines.append(f"{kind}: {made[kind]}/{wanted} ({mark})")
        lines += [f"put off {edit_type}: {why}" for edit_type, why in sorted(self.put_off.items())]
        return lines
