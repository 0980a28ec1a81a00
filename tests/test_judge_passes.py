"""Multi-pass judging: N samples of a VLM judge averaged, their spread kept, disagreement settled.

The stage's combination is checked on verdicts built by hand; the whole flow runs through the real
openai SDK against the fake OpenAI-compatible server, whose judge samples (scores move with the seed)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from editforge.config import ConfigError, build_config
from editforge.pipeline import run
from editforge.records import ModelRef, Scores, Verdict
from editforge.stages.judge import combine_passes, passes_disagree
from editforge.testing.fake_openai import FakeOpenAI

REF = ModelRef(provider="openai", model="judge-model", prompt_version="v1")


def _pass(i: int, score: float | None, status: str = "scored", hard: str | None = None) -> Verdict:
    scores = Scores(**dict.fromkeys(Scores.model_fields, score)) if score is not None else None
    return Verdict(attempt_id="a", task_id="t", status=status, scores=scores, rationale=f"pass {i}", model=REF,
                   raw_reply=f"raw {i}", pass_index=i, hard_fail=hard)  # fmt: skip


def test_passes_are_averaged_and_each_weighted_score_is_kept() -> None:
    verdict = combine_passes([_pass(0, 0.6), _pass(1, 0.9), _pass(2, 0.75)], 0.7)
    assert verdict.status == "scored" and verdict.pass_index is None
    assert verdict.score == pytest.approx(0.75) and verdict.pass_scores == pytest.approx([0.6, 0.9, 0.75])
    assert verdict.passed and passes_disagree(verdict)
    assert "pass 2" in verdict.rationale and "mean of 3 of 3 passes" in verdict.rationale
    assert verdict.raw_reply == '["raw 0", "raw 1", "raw 2"]'  # every raw reply is kept


def test_unscored_passes_are_never_guessed_into_the_mean() -> None:
    two_of_three = combine_passes([_pass(0, 0.8), _pass(1, None, "failed"), _pass(2, 0.9)], 0.7)
    assert two_of_three.score == pytest.approx(0.85) and len(two_of_three.pass_scores) == 2
    assert not passes_disagree(two_of_three)
    mostly_garbage = combine_passes([_pass(0, 0.8), _pass(1, None, "failed"), _pass(2, None, "failed")], 0.7)
    assert mostly_garbage.status == "failed" and mostly_garbage.scores is None
    assert "1 of 3 judge passes scored" in mostly_garbage.rationale
    abstained = combine_passes([_pass(0, None, "abstained"), _pass(1, None, "abstained")], 0.7)
    assert abstained.status == "abstained"


def test_one_hard_failure_among_passes_fails_the_attempt() -> None:
    verdict = combine_passes([_pass(0, 0.9), _pass(1, 0.95, hard="no visible change")], 0.7)
    assert verdict.hard_fail == "no visible change" and verdict.passed is False


def test_passes_need_a_judge_that_samples() -> None:
    with pytest.raises(ConfigError, match="needs a judge that samples"):
        build_config({"out": "x", "images": ".", "judge_passes": 3}, {})
    with pytest.raises(ConfigError, match="set judge_passes"):
        build_config({"out": "x", "images": ".", "roles": {"judge": {"provider": "openai"},
                                                            "tiebreak": {"provider": "openai"}}}, {})  # fmt: skip


def _config(out: Path, photos: Path, **extra: object):
    roles = {role: {"provider": "openai"} for role in ("writer", "rewriter", "editor", "judge")}
    roles["tiebreak"] = {"provider": "openai", "model": "gpt-tiebreak"}
    return build_config(
        {"out": out, "images": photos, "per_photo": 3, "workers": 1, "seed": 5, "judge_passes": 3, "threshold": 0.85,
         "judge_prefilter": False, "roles": roles, "retries": {"base_s": 0.01, "max_wait_s": 0.05}, **extra},
        {},
    )  # fmt: skip


def test_a_run_judges_each_attempt_n_times_settles_disagreement_and_resumes_without_paying_again(
    tmp_path: Path, photo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAI(api_key="sk-test", retry_after=0, judge_jitter=0.35) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        out = tmp_path / "run"
        summary = run(_config(out, photo_dir), quiet=True)
        assert summary.counts.get("planned", 0) == 0
        db = sqlite3.connect(out / "ledger.sqlite")
        verdicts = [Verdict.model_validate_json(js) for (js,) in db.execute("SELECT json FROM verdicts")]
        attempts = db.execute("SELECT COUNT(*) FROM attempts WHERE json LIKE '%\"status\":\"ok\"%'").fetchone()[0]
        judge_calls = db.execute("SELECT COUNT(*) FROM calls WHERE role = 'judge'").fetchone()[0]
        passes = db.execute("SELECT COUNT(*) FROM judge_passes WHERE sample >= 0").fetchone()[0]
        tiebreaks = db.execute("SELECT COUNT(*) FROM calls WHERE role = 'tiebreak'").fetchone()[0]
        scored = [v for v in verdicts if v.status == "scored"]
        assert scored and all(len(v.pass_scores) >= 2 for v in scored)
        assert judge_calls == passes == 3 * len(verdicts) and attempts >= len(verdicts)
        # the jittered judge disagrees with itself on some attempts: exactly those went to the second judge
        settled = [v for v in verdicts if v.tiebreak]
        assert tiebreaks == len(settled) >= 1 and all(v.model.model == "gpt-tiebreak" for v in settled)
        assert all(v.tiebreak == passes_disagree(v) for v in scored)
        sent = len(server.calls)
        db.execute("DELETE FROM verdicts")  # as if killed after the passes were paid, before combining
        db.commit()
        db.close()
        run(_config(out, photo_dir), quiet=True)
        assert len(server.calls) == sent  # every pass (and tiebreak) was read back, none bought again
