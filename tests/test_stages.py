"""Plan and curate: the pure stages that decide what is tried and what is kept."""

from collections import Counter

from editforge.records import Attempt, ModelRef, Photo, PhotoFacts, Scores, Verdict
from editforge.stages.curate import curate
from editforge.stages.plan import PlannedSoFar, plan_tasks

REF = ModelRef(provider="offline", model="m")
ALLOWED = frozenset({"color_tone", "weather", "zoom_in", "add_text", "person_lineart", "translate_text"})


def _photo(i: int, person: bool = False) -> Photo:
    return Photo(
        photo_id=f"p{i}",
        uri=f"/{i}.jpg",
        image=f"images/{i}.png",
        width=8,
        height=8,
        facts=PhotoFacts(has_person=person),
    )


def test_plan_spreads_types_and_respects_what_photos_contain() -> None:
    photos = [_photo(0, person=True)] + [_photo(i) for i in range(1, 6)]
    tasks = plan_tasks(photos, ALLOWED, per_photo=2, seed=3)
    assert len(tasks) == 12
    types = Counter(t.edit_type for t in tasks)
    assert "translate_text" not in types  # no photo has visible text
    assert all(t.photo_id == "p0" for t in tasks if t.edit_type == "person_lineart")
    general = [n for k, n in types.items() if k != "person_lineart"]
    assert max(general) - min(general) <= 1  # spread evenly over the types every photo allows
    per_photo = Counter((t.photo_id, t.edit_type) for t in tasks)
    assert max(per_photo.values()) == 1  # never the same type twice on a photo


def test_plan_is_deterministic_under_its_seed() -> None:
    photos = [_photo(i) for i in range(4)]
    first = plan_tasks(photos, ALLOWED, 2, seed=1)
    assert first == plan_tasks(photos, ALLOWED, 2, seed=1)
    assert [t.edit_type for t in first] != [t.edit_type for t in plan_tasks(photos, ALLOWED, 2, seed=2)]


def _attempt(i: int, ok: bool = True) -> Attempt:
    return Attempt(
        attempt_id=f"a{i}",
        task_id="t",
        index=i,
        seed=i,
        instruction="x",
        status="ok" if ok else "failed",
        output_image=f"images/{i}.png" if ok else None,
        model=REF,
    )


def _verdict(i: int, score: float) -> Verdict:
    s = Scores(instruction_compliance=score, seamlessness=score, preservation=score, technical_quality=score)
    return Verdict(attempt_id=f"a{i}", task_id="t", status="scored", scores=s, model=REF)


def test_a_hard_failure_is_never_kept_whatever_its_score() -> None:
    wrecked = _verdict(1, 0.9).model_copy(update={"hard_fail": "no visible change"})
    assert wrecked.passed is False
    assert Verdict.model_validate_json(wrecked.model_dump_json()).passed is False  # survives the ledger
    assert curate("t", [_attempt(1)], {"a1": wrecked}) == []
    sft, pref = curate("t", [_attempt(1), _attempt(2)], {"a1": wrecked, "a2": _verdict(2, 0.8)})
    assert sft.chosen_attempt_id == "a2" and pref.rejected_attempt_ids == ["a1"]


def test_first_try_pass_is_sft_only() -> None:
    examples = curate("t", [_attempt(1)], {"a1": _verdict(1, 0.9)})
    assert [e.kind for e in examples] == ["sft"]


def test_failures_before_a_pass_make_a_preference_pair() -> None:
    attempts = [_attempt(1), _attempt(2, ok=False), _attempt(3)]
    verdicts = {"a1": _verdict(1, 0.4), "a3": _verdict(3, 0.8)}
    sft, pref = curate("t", attempts, verdicts)
    assert sft.chosen_attempt_id == pref.chosen_attempt_id == "a3"
    assert pref.rejected_attempt_ids == ["a1"]  # a refusal (no image) cannot be the rejected side


def test_all_failed_is_dropped() -> None:
    assert curate("t", [_attempt(1), _attempt(2)], {"a1": _verdict(1, 0.2), "a2": _verdict(2, 0.6)}) == []


def test_scarce_types_are_taken_where_the_photo_allows_them() -> None:
    photos = [_photo(0, person=True)] + [_photo(i) for i in range(1, 4)]
    tasks = plan_tasks(photos, ALLOWED, per_photo=1, seed=0)
    assert tasks[0].edit_type == "person_lineart"


def test_an_unjudged_attempt_is_never_the_rejected_side_of_a_pair() -> None:
    attempts = [_attempt(1), _attempt(2), _attempt(3), _attempt(4)]
    abstained = Verdict(attempt_id="a1", task_id="t", status="abstained", rationale="cannot judge", model=REF)
    judge_failed = Verdict(attempt_id="a2", task_id="t", status="failed", rationale="reply not JSON", model=REF)
    verdicts = {"a1": abstained, "a2": judge_failed, "a3": _verdict(3, 0.3), "a4": _verdict(4, 0.9)}
    sft, pref = curate("t", attempts, verdicts)
    assert sft.chosen_attempt_id == "a4" and pref.rejected_attempt_ids == ["a3"]  # only the measured failure
    only_unjudged = curate("t", attempts[:2] + [attempts[3]], {k: verdicts[k] for k in ("a1", "a2", "a4")})
    assert [e.kind for e in only_unjudged] == ["sft"]  # no pair at all


def test_an_imported_reject_decision_is_the_rejected_side_of_a_pair() -> None:
    """Pico-Banana released its judge's decisions without the scores: a released reject is measured."""
    released = {
        "a1": Verdict(attempt_id="a1", task_id="t", status="released", decision=False, model=REF),
        "a2": Verdict(attempt_id="a2", task_id="t", status="released", decision=True, model=REF),
    }
    sft, pref = curate("t", [_attempt(1), _attempt(2)], released)
    assert sft.chosen_attempt_id == "a2" and pref.rejected_attempt_ids == ["a1"]


def test_photos_added_to_a_resumed_run_leave_the_earlier_photos_plan_alone() -> None:
    first = plan_tasks([_photo(1), _photo(2), _photo(3)], ALLOWED, per_photo=2, seed=4)
    planned = PlannedSoFar({t.photo_id for t in first}, dict(Counter(t.edit_type for t in first)))
    grown = [_photo(0), _photo(1), _photo(5), _photo(2), _photo(3)]  # new photos sort before and between
    more = plan_tasks(grown, ALLOWED, per_photo=2, seed=4, planned=planned)
    assert {t.photo_id for t in more} == {"p0", "p5"} and len(more) == 4  # only the new photos are planned
    types = Counter(t.edit_type for t in [*first, *more])
    assert max(types.values()) - min(types.values()) <= 1  # the new photos still even out the spread


def test_offline_labels_are_what_photo_analysis_detects_never_instruction_words(run_dir) -> None:  # noqa: ANN001
    from editforge.dataset import example_views, session_views
    from editforge.store.ledger import Ledger

    with Ledger(run_dir / "ledger.sqlite") as ledger:
        views = [*example_views(ledger), *session_views(ledger)]
    assert views
    for view in views:
        facts = view.photo.facts
        people = ["people"] if facts.has_person or facts.faces else []
        expected = people + (["text_signage"] if facts.has_text else [])
        assert view.labels == expected, (view.photo.uri, view.labels)
