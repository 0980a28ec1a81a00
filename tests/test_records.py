import pytest
from pydantic import ValidationError

from editforge.records import (
    CRITERIA,
    Attempt,
    Example,
    Instruction,
    ModelRef,
    Photo,
    PhotoFacts,
    Scores,
    Task,
    Verdict,
    stable_id,
)

REF = ModelRef(provider="offline", model="metric-judge", prompt_version="v1")


def scores(c: float, s: float, p: float, t: float) -> Scores:
    return Scores(instruction_compliance=c, seamlessness=s, preservation=p, technical_quality=t)


def test_weights_are_picobananas() -> None:
    assert CRITERIA == {
        "instruction_compliance": 0.40,
        "seamlessness": 0.25,
        "preservation": 0.20,
        "technical_quality": 0.15,
    }
    assert scores(1, 0, 0, 0).weighted() == pytest.approx(0.40)
    assert scores(0.5, 1, 1, 1).weighted() == pytest.approx(0.80)


def test_verdict_passes_at_configurable_threshold() -> None:
    verdict = Verdict(attempt_id="a", task_id="t", status="scored", scores=scores(0.5, 1, 1, 1), model=REF)
    assert verdict.score == pytest.approx(0.8) and verdict.passed is True
    strict = verdict.model_copy(update={"threshold": 0.85})
    assert strict.passed is False


def test_abstention_and_failure_are_not_scores() -> None:
    for status in ("abstained", "failed"):
        verdict = Verdict(attempt_id="a", task_id="t", status=status, model=REF, rationale="why")
        assert verdict.score is None and verdict.passed is None


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_scores_outside_unit_interval_or_nan_are_rejected(bad: float) -> None:
    with pytest.raises(ValidationError):
        scores(bad, 1, 1, 1)


@pytest.mark.parametrize(
    "record",
    [
        Photo(
            photo_id="p",
            uri="/x.jpg",
            image="images/ab/ab.png",
            width=4,
            height=3,
            facts=PhotoFacts(faces=[(1, 2, 3, 4)], has_person=True),
        ),
        Task(
            task_id="t",
            photo_id="p",
            edit_type="color_tone",
            seed=3,
            input_image="images/a.png",
            history=["x"],
        ),
        Instruction(task_id="t", kind="long", text="Make it warmer.", model=REF),
        Attempt(
            attempt_id="a",
            task_id="t",
            index=1,
            seed=5,
            instruction="i",
            status="failed",
            error="refused",
            model=REF,
        ),
        Verdict(
            attempt_id="a",
            task_id="t",
            status="scored",
            scores=scores(0.9, 0.8, 0.7, 0.6),
            model=REF,
            raw_reply='{"x": 1}',
        ),
        Example(kind="preference", task_id="t", chosen_attempt_id="b", rejected_attempt_ids=["a"]),
    ],
)
def test_json_round_trip(record) -> None:
    assert type(record).model_validate_json(record.model_dump_json()) == record


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        Task.model_validate(
            {"task_id": "t", "photo_id": "p", "edit_type": "x", "seed": 1, "input_image": "i", "sede": 2}
        )


def test_stable_id_is_deterministic_and_sensitive() -> None:
    assert stable_id("a", 1) == stable_id("a", 1)
    assert stable_id("a", 1) != stable_id("a", 2)


def test_a_released_verdict_carries_a_decision_and_never_a_score() -> None:
    import pytest
    from pydantic import ValidationError

    from editforge.records import ModelRef, Scores, Verdict

    judge = ModelRef(provider="pico-banana-400k", model="gemini-2.5-pro")
    kept = Verdict(attempt_id="a", task_id="t", status="released", decision=True, model=judge)
    assert kept.passed is True and kept.score is None
    assert Verdict.model_validate_json(kept.model_dump_json()).passed is True
    assert Verdict(attempt_id="b", task_id="t", status="released", decision=False, model=judge).passed is False
    with pytest.raises(ValidationError, match="released dataset"):
        Verdict(attempt_id="c", task_id="t", status="released", model=judge)  # no decision
    with pytest.raises(ValidationError, match="released dataset"):
        Verdict(attempt_id="d", task_id="t", status="scored", decision=True, model=judge,
                scores=Scores(instruction_compliance=1, seamlessness=1, preservation=1, technical_quality=1))
