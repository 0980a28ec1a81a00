"""Judging labelled rows: cached by judge identity and content, retried when transient, never guessed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from editforge.calibrate.judging import VerdictCache, judge_rows
from editforge.calibrate.labels import LabelRow
from editforge.models.base import JudgeReply, ModelCallError, TransientModelError
from editforge.records import ModelRef, Scores, Usage


class CountingJudge:
    """A judge whose replies the test chooses; it counts the calls it was paid for."""

    supported_types = frozenset({"color_tone"})

    def __init__(self, replies: list[object], prompt_version: str = "v1") -> None:
        self.ref = ModelRef(provider="test", model="counting", prompt_version=prompt_version)
        self.replies = list(replies)
        self.calls = 0

    def judge(self, source, edited, instruction, edit_type):  # noqa: ANN001, ANN201
        self.calls += 1
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        return reply


SCORES = Scores(instruction_compliance=0.9, seamlessness=0.8, preservation=0.7, technical_quality=0.9)
SCORED = JudgeReply(scores=SCORES, rationale="ok", raw="{...}", usage=Usage(input_tokens=5))


def _rows(tmp_path: Path, n: int = 2) -> list[LabelRow]:
    rows = []
    for i in range(n):
        src, out = tmp_path / f"s{i}.png", tmp_path / f"e{i}.png"
        Image.fromarray(np.full((64, 64, 3), 10 * i, np.uint8)).save(src)
        Image.fromarray(np.full((64, 64, 3), 10 * i + 5, np.uint8)).save(out)
        rows.append(LabelRow(source=src, edited=out, instruction=f"warmer {i}", edit_type="color_tone", label="pass"))
    return rows


def test_a_rerun_pays_nothing_and_a_new_prompt_version_judges_again(tmp_path: Path) -> None:
    rows = _rows(tmp_path)
    cache = VerdictCache(tmp_path / "cache.sqlite")
    first = CountingJudge([SCORED])
    assert [j.score for j in judge_rows(first, rows, cache)] == [SCORED.scores.weighted()] * 2
    again = CountingJudge([SCORED])
    results = judge_rows(again, rows, cache)
    assert again.calls == 0 and all(j.cached for j in results)
    changed = CountingJudge([SCORED], prompt_version="v2")
    judge_rows(changed, rows, cache)
    assert changed.calls == 2


def test_two_raters_on_one_item_cost_one_call(tmp_path: Path) -> None:
    row = _rows(tmp_path, 1)[0]
    other = row.model_copy(update={"rater": "bob", "label": "fail"})
    judge = CountingJudge([SCORED])
    results = judge_rows(judge, [row, other], VerdictCache(tmp_path / "c.sqlite"))
    assert judge.calls == 1 and results[0].score == results[1].score


def test_transient_errors_are_retried_and_an_unreachable_judge_is_not_cached(tmp_path: Path) -> None:
    rows = _rows(tmp_path, 1)
    cache = VerdictCache(tmp_path / "c.sqlite")
    flaky = CountingJudge([TransientModelError("503"), SCORED])
    assert judge_rows(flaky, rows, cache)[0].status == "scored" and flaky.calls == 2
    down = CountingJudge([TransientModelError("503")], prompt_version="down")
    result = judge_rows(down, rows, cache, tries=2)[0]
    assert result.status == "failed" and result.retryable and result.score is None
    back = CountingJudge([SCORED], prompt_version="down")
    assert judge_rows(back, rows, cache)[0].status == "scored" and back.calls == 1


def test_an_unparseable_reply_is_a_failure_with_its_raw_text_never_a_score(tmp_path: Path) -> None:
    garbage = CountingJudge([ModelCallError("judge reply is not JSON", raw="blah blah")])
    result = judge_rows(garbage, _rows(tmp_path, 1), VerdictCache(tmp_path / "c.sqlite"))[0]
    assert (result.status, result.scores, result.raw) == ("failed", None, "blah blah")
