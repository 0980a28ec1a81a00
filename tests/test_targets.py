"""Mix targets (engine.targets): with a target to fill, a type that rarely passes in this run waits."""

from __future__ import annotations

from editforge.config import Targets
from editforge.engine.targets import Goals
from editforge.records import Task


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
