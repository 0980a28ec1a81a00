"""Multi-turn sessions: each turn edits the image the previous turn accepted, knowing its history.

A session's turns run one after another (turn k needs turn k−1's image); sessions run side by side.
Every turn is an ordinary task through engine.flow, so it gets the same attempts, judge and resume.
"""

from __future__ import annotations

from editforge.dataset import session_turns
from editforge.engine.flow import TaskFlow
from editforge.records import Photo, Session
from editforge.stages.plan import turn_task
from editforge.store.ledger import Ledger


class SessionFlow:
    def __init__(self, ledger: Ledger, tasks: TaskFlow) -> None:
        self.ledger = ledger
        self.tasks = tasks

    async def run(self, session: Session, photo: Photo) -> str:
        """Run the session's remaining turns; returns its status: complete, ended or failed."""
        accepted = session_turns(self.ledger, session)
        if not accepted:  # the single-turn example it extends is gone: nothing to build on
            self.ledger.set_session_status(session.session_id, "failed", "first turn has no passing edit")
            return "failed"
        current = accepted[-1].chosen.output_image
        history = [turn.long.text for turn in accepted]
        missed: list[str] = []
        for turn, edit_type in enumerate(session.planned_types, start=2):
            task = turn_task(session, turn, edit_type, current, history)
            self.ledger.add_tasks([task])
            status, reason = self.ledger.task_status(task.task_id)
            if status == "planned":
                status = await self.tasks.run(task, photo)
                reason = self.ledger.task_status(task.task_id)[1]
            if status == "passed":
                view = session_turns(self.ledger, session)[-1]
                current, history = view.chosen.output_image, [*history, view.long.text]
                continue
            missed.append(f"turn {turn} ({edit_type}): {status}: {(reason or '')[:200]}")
            if session.on_failed_turn == "end":
                break
        done = len(session_turns(self.ledger, session))
        status = "complete" if not missed else ("ended" if done >= 2 else "failed")
        self.ledger.set_session_status(session.session_id, status, "; ".join(missed) or None)
        return status
