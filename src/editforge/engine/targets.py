"""Mix targets: how many SFT, preference and multi-turn examples a run aims for, and how far it got."""

from __future__ import annotations

from dataclasses import dataclass, field

from editforge.config import Targets
from editforge.dataset import session_turns
from editforge.stages.curate import curate
from editforge.store.ledger import Ledger


@dataclass
class Goals:
    targets: Targets
    made: dict[str, int] = field(default_factory=lambda: {"sft": 0, "preference": 0, "multi_turn": 0})

    @classmethod
    def from_ledger(cls, targets: Targets, ledger: Ledger) -> Goals:
        goals = cls(targets)
        for task in ledger.tasks("passed"):
            if task.session_id is None:
                goals.record_task(ledger, task.task_id)
        for session in ledger.sessions():
            goals.record_session(ledger, session)
        return goals

    def record_task(self, ledger: Ledger, task_id: str) -> None:
        for example in curate(task_id, ledger.attempts(task_id), ledger.verdicts(task_id)):
            self.made[example.kind] += 1

    def record_session(self, ledger: Ledger, session) -> None:  # noqa: ANN001 - records.Session
        if len(session_turns(ledger, session)) >= 2:
            self.made["multi_turn"] += 1

    def single_turn_met(self) -> bool:
        """True once every single-turn target set is met (no target set: run every planned task)."""
        wanted = {k: getattr(self.targets, k) for k in ("sft", "preference")}
        if all(v is None for v in wanted.values()):
            return False
        return all(v is None or self.made[k] >= v for k, v in wanted.items())

    def sessions_wanted(self) -> int:
        return max(0, (self.targets.multi_turn or 0) - self.made["multi_turn"])

    def report(self) -> list[str]:
        """One line per target set: made / wanted, and whether it was met."""
        lines = []
        for kind in ("sft", "preference", "multi_turn"):
            wanted = getattr(self.targets, kind)
            if wanted is not None:
                mark = "met" if self.made[kind] >= wanted else "NOT met: photos or starters ran out"
                lines.append(f"{kind}: {self.made[kind]}/{wanted} ({mark})")
        return lines
