"""One task's way through the models: write → rewrite → (edit → [prefilter →] judge) ≤ N attempts.

Each step first looks in the ledger: a step that finished before a crash is read back, not redone.
Each call's result is committed together with its cost row the moment it arrives.
"""

from __future__ import annotations

import re
import time
from typing import Any

from rich.console import Console

from editforge.engine import work
from editforge.engine.calls import Dispatcher
from editforge.models.base import Role
from editforge.records import Attempt, Instruction, ModelRef, Photo, Task, Usage, Verdict
from editforge.stages.judge import TIEBREAK_PASS, combine_passes, passes_disagree
from editforge.store.ledger import Ledger

Outcome = str  # "passed" | "failed" | "error" | "deferred"


class TaskFlow:
    def __init__(
        self,
        ledger: Ledger,
        dispatcher: Dispatcher,
        max_attempts: int,
        threshold: float,
        prefilter: bool,
        console: Console,
        judge_passes: int = 1,
        tiebreak: bool = False,
        smart_retries: bool = True,
    ) -> None:
        self.ledger = ledger
        self.dispatcher = dispatcher
        self.max_attempts = max_attempts
        self.threshold = threshold
        self.prefilter = prefilter
        self.console = console
        self.judge_passes = judge_passes
        self.tiebreak = tiebreak
        self.smart_retries = smart_retries  # feedback to the next attempt, no third try of a repeated failure
        dispatcher.on_possibly_billed = self._record_possibly_billed
        dispatcher.on_billed_failure = self._record_billed_failure

    async def run(self, task: Task, photo: Photo) -> Outcome:
        long = self.ledger.instruction(task.task_id, "long")
        if long is None:
            result = await self._call("writer", task, work.do_write, task, photo)
            if isinstance(result, work.StageFailure):
                self.ledger.set_task_status(task.task_id, "error", result.reason)
                return "error"
            long = result
        if self.ledger.instruction(task.task_id, "short") is None:
            result = await self._call("rewriter", task, work.do_rewrite, task, long)
            if isinstance(result, work.StageFailure):
                self.ledger.set_task_status(task.task_id, "error", result.reason)
                return "error"
        done = {a.index: a for a in self.ledger.attempts(task.task_id)}
        verdicts = self.ledger.verdicts(task.task_id)
        reasons: list[str] = []
        judged: dict[str, Verdict] = {}  # output image → its verdict, within this task
        feedback: str | None = None  # why the judge rejected the previous attempt, for the next one
        last_failure: str | None = None
        for index in range(1, self.max_attempts + 1):
            attempt = done.get(index) or await self._call(
                "editor", task, work.do_edit, task, long.text, index, feedback if self.smart_retries else None
            )
            if attempt.status != "ok":
                reasons.append(f"attempt {index}: {attempt.error}")
                if self.smart_retries and _same_failure(last_failure, attempt.error or ""):
                    reasons.append(SAME_FAILURE_NOTE)
                    break
                last_failure, feedback = attempt.error or "", None
                continue
            verdict = (
                verdicts.get(attempt.attempt_id)
                or self._same_image(attempt, judged)
                or await self._judge(task, attempt)
            )
            judged.setdefault(attempt.output_image or "", verdict)
            if verdict.passed:
                self.ledger.set_task_status(task.task_id, "passed")
                return "passed"
            score = f" {verdict.score:.3f}" if verdict.score is not None else ""
            reasons.append(f"attempt {index}: {verdict.status}{score} {verdict.rationale[:160]}")
            if verdict.status != "scored":  # the judge abstained or failed: nothing learnt about the edit
                last_failure = feedback = None
                continue
            if self.smart_retries and _same_failure(last_failure, verdict.rationale):
                reasons.append(SAME_FAILURE_NOTE)
                break
            last_failure = feedback = verdict.rationale
        self.ledger.set_task_status(task.task_id, "failed", "; ".join(reasons)[:2000])
        return "failed"

    def _same_image(self, attempt: Attempt, judged: dict[str, Verdict]) -> Verdict | None:
        """An editor can return the very image an earlier attempt returned; judging it again would pay
        for the same answer twice. Its verdict is the earlier one's, recorded for this attempt."""
        earlier = judged.get(attempt.output_image or "")
        if earlier is None:
            return None
        update = {"attempt_id": attempt.attempt_id, "usage": Usage()}
        verdict = earlier.model_copy(
            update={**update, "rationale": f"same image as an earlier attempt; {earlier.rationale}"}
        )
        self.ledger.add_verdict(verdict)
        return verdict

    async def _judge(self, task: Task, attempt: Attempt) -> Verdict:
        if self.prefilter:
            decisive = await self._call("prefilter", task, work.do_prefilter, task, attempt, self.threshold)
            if decisive is not None:
                return decisive
        if self.judge_passes == 1:
            return await self._call("judge", task, work.do_judge, task, attempt, self.threshold)
        return await self._judge_passes(task, attempt)

    async def _judge_passes(self, task: Task, attempt: Attempt) -> Verdict:
        """N passes of a sampling judge, each its own priced call kept in the ledger (a resumed run pays
        only for the passes it lacks), combined into the attempt's verdict; a second judge settles
        passes that disagree across the threshold, when one is configured."""
        done = self.ledger.judge_passes(attempt.attempt_id)
        for sample in range(self.judge_passes):
            if sample not in done:
                done[sample] = await self._call("judge", task, work.do_judge, task, attempt, self.threshold, sample)
        verdict = combine_passes([done[i] for i in range(self.judge_passes)], self.threshold)
        if self.tiebreak and passes_disagree(verdict):
            decided = done.get(TIEBREAK_PASS) or await self._call(
                "tiebreak", task, work.do_tiebreak, task, attempt, self.threshold
            )
            if decided.status == "scored":  # a tiebreak that failed to judge leaves the mean standing
                note = f"passes disagreed ({', '.join(f'{w:.3f}' for w in verdict.pass_scores)}); second judge: "
                update = {
                    "pass_scores": verdict.pass_scores, "tiebreak": True, "pass_index": None,
                    "rationale": note + decided.rationale,
                }  # fmt: skip
                verdict = decided.model_copy(update=update)
        with self.ledger.transaction():
            self.ledger.add_verdict(verdict)
        return verdict

    async def _call(self, role: Role | str, task: Task, fn: Any, *args: Any) -> Any:
        started = time.monotonic()
        label = f"task {task.task_id} ({task.edit_type})"
        result = await self.dispatcher.call(role, label, fn, *args, task_id=task.task_id)  # type: ignore[arg-type]
        elapsed = time.monotonic() - started
        if result is None:  # a prefilter that let the attempt through: nothing to record
            return None
        model = self.dispatcher.refs[role]  # type: ignore[index]
        if isinstance(result, work.StageFailure):  # a refused or unparseable reply is billed all the same
            usage = self.dispatcher.price(role, result.usage)  # type: ignore[arg-type]
            self.dispatcher.charge(usage.cost_usd)
            with self.ledger.transaction():
                self.ledger.add_call(role, model, task.task_id, usage, elapsed, error=result.reason)
            return result
        priced = result.model_copy(update={"usage": self.dispatcher.price(role, result.usage)})  # type: ignore[arg-type]
        self.dispatcher.charge(priced.usage.cost_usd)
        error = getattr(priced, "error", None) or (
            priced.rationale if isinstance(priced, Verdict) and priced.status == "failed" else None
        )
        with self.ledger.transaction():
            _store(self.ledger, priced)
            self.ledger.add_call(role, model, task.task_id, priced.usage, elapsed, error=error)
        return priced

    def _record_possibly_billed(
        self, role: Role, model: ModelRef, task_id: str | None, usage: Usage, waited_s: float, reason: str
    ) -> None:
        with self.ledger.transaction():
            self.ledger.add_call(role, model, task_id, usage, waited_s, error=reason, possibly_billed=True)

    def _record_billed_failure(
        self, role: Role, model: ModelRef, task_id: str | None, usage: Usage, waited_s: float, reason: str
    ) -> None:
        with self.ledger.transaction():
            self.ledger.add_call(role, model, task_id, usage, waited_s, error=reason)


SAME_FAILURE_NOTE = "stopped: two attempts in a row failed the same way, a third would too"


def _failure_kind(text: str) -> str:
    """A failure's reason without its numbers: "score 0.41, brightness +3%" and "score 0.38, brightness
    +5%" are the same failure; "same image as an earlier attempt; X" is X again."""
    text = text.removeprefix("same image as an earlier attempt; ")
    return re.sub(r"[-+]?\d+(?:\.\d+)?%?", "#", " ".join(text.lower().split()))


def _same_failure(previous: str | None, current: str) -> bool:
    return previous is not None and bool(current.strip()) and _failure_kind(previous) == _failure_kind(current)


def _store(ledger: Ledger, record: Instruction | Attempt | Verdict) -> None:
    if isinstance(record, Instruction):
        ledger.add_instruction(record)
    elif isinstance(record, Attempt):
        ledger.add_attempt(record)
    elif record.pass_index is not None:
        ledger.add_judge_pass(record)  # one pass of several: the combined verdict is stored by _judge_passes
    else:
        ledger.add_verdict(record)
