"""Mix targets (engine.targets): they count what the exporters write, each example once however often a
resumed run sees it, a session only once it has finished; and with a target to fill, a type that rarely
passes in this run waits."""

from __future__ import annotations

import shutil
from pathlib import Path

from editforge.config import Targets
from editforge.dataset import example_views, session_views
from editforge.engine.targets import Goals
from editforge.records import Task
from editforge.store.ledger import Ledger


def _tasks(types: str) -> list[Task]:
    return [Task(task_id=f"t{i}", photo_id="p", edit_type=t, seed=i, input_image="x.png") for i, t in enumerate(types)]


def _drive(goals: Goals, tasks: list[Task], passes: dict[str, bool]) -> list[str]:
    """Run the schedule as the runner does: each task's outcome is known before the next is taken."""
    order = []
    for task in goals.scheduled(iter(tasks)):
        order.append(task.task_id)
        goals.record_outcome(task.edit_type, "passed" if passes[task.edit_type] else "failed")
    return order


PLAN = "abababababbbbbaaaa"  # a: passes every time; b: never


def test_a_type_far_below_the_others_waits_while_a_target_can_fill_without_it() -> None:
    goals = Goals(Targets(sft=10))
    order = _drive(goals, _tasks(PLAN), {"a": True, "b": False})
    types = [PLAN[int(t[1:])] for t in order]
    assert sorted(order) == sorted(f"t{i}" for i in range(len(PLAN)))  # put off, not dropped
    first_b_after_poor = types.index("b", 8)  # four of each tried by then: b is 0 % against a's 100 %
    assert set(types[first_b_after_poor:]) == {"b"}  # every later b waited for all the a's
    assert "b" in goals.put_off and any(line.startswith("put off b") for line in goals.report())


def test_without_a_target_every_task_runs_in_plan_order() -> None:
    goals = Goals(Targets())
    order = _drive(goals, _tasks(PLAN), {"a": True, "b": False})
    assert order == [f"t{i}" for i in range(len(PLAN))] and goals.put_off == {}


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(run_dir, target)
    return target


def test_goals_count_what_the_exports_hold_and_never_twice(run_dir: Path, tmp_path: Path) -> None:
    with Ledger(_copy(run_dir, tmp_path) / "ledger.sqlite") as ledger:
        goals = Goals.from_ledger(Targets(sft=100, preference=100, multi_turn=100), ledger)
        views = list(example_views(ledger))
        sessions = list(session_views(ledger))
        expected = {
            "sft": sum(v.example.kind == "sft" for v in views),
            "preference": sum(v.example.kind == "preference" for v in views),
            "multi_turn": len(sessions),
        }
        assert goals.made == expected and expected["multi_turn"] >= 1
        # a resumed run runs the sessions it found unfinished and records them again: still one each
        for session in ledger.sessions():
            goals.record_session(ledger, session)
        for task in ledger.tasks("passed"):
            if task.session_id is None:
                goals.record_task(ledger, task.task_id)
        assert goals.made == expected


def test_an_unfinished_session_is_neither_counted_nor_exported(run_dir: Path, tmp_path: Path) -> None:
    with Ledger(_copy(run_dir, tmp_path) / "ledger.sqlite") as ledger:
        finished = list(session_views(ledger))
        cut = finished[0].session
        ledger.set_session_status(cut.session_id, "planned")  # what an interrupt leaves behind
        assert [v.session.session_id for v in session_views(ledger)] == [v.session.session_id for v in finished[1:]]
        goals = Goals.from_ledger(Targets(multi_turn=len(finished)), ledger)
        assert goals.made["multi_turn"] == len(finished) - 1
        assert goals.sessions_wanted() == 1


def test_an_unmet_target_says_why(run_dir: Path, tmp_path: Path) -> None:
    with Ledger(run_dir / "ledger.sqlite") as ledger:
        goals = Goals.from_ledger(Targets(sft=1000), ledger)
    (line,) = goals.report(stopped="interrupted (Ctrl-C)")
    assert "NOT met: the run stopped early" in line and "ran out" not in line
    (line,) = goals.report(deferred=3)
    assert "3 tasks or sessions deferred" in line
    (line,) = goals.report()
    assert "photos or starters ran out" in line
