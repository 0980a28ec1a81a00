"""What a person watching a run sees: a live bar while it runs, a table when it ends."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from editforge import taxonomy


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    errors: int = 0
    by_category: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, edit_type: str, status: str) -> None:
        category = taxonomy.get(edit_type).category
        self.by_category.setdefault(category, Counter())[status] += 1
        if status == "passed":
            self.passed += 1
        elif status == "failed":
            self.failed += 1
        else:
            self.errors += 1


class RunProgress:
    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.tally = Tally()
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "[green]✓ {task.fields[passed]}[/] [red]✗ {task.fields[failed]}[/] [yellow]! {task.fields[errors]}[/]"
            ),
            TextColumn("{task.fields[rate]}"),
            TextColumn("[cyan]{task.fields[cost]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=quiet,
        )
        self._ids: dict[str, int] = {}

    def __enter__(self) -> RunProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)

    def start(self, name: str, total: int, done: int = 0) -> None:
        self._ids[name] = self._bar.add_task(
            name, total=total, completed=done, passed=0, failed=0, errors=0, rate="", cost=""
        )

    def grow(self, name: str, more: int) -> None:
        task_id = self._ids[name]
        self._bar.update(task_id, total=(self._bar.tasks[task_id].total or 0) + more)

    def advance(self, name: str, edit_type: str | None = None, status: str | None = None, cost: float = 0.0) -> None:
        task_id = self._ids[name]
        counted = bool(edit_type and status)  # single tasks feed the ✓/✗ tally; sessions only count
        if counted:
            self.tally.add(edit_type, status)  # type: ignore[arg-type]
        self._bar.advance(task_id)
        elapsed = self._bar.tasks[task_id].elapsed or 0.0
        done = self._bar.tasks[task_id].completed
        rate = f"{done / elapsed:.2f}/s" if elapsed > 0 else ""
        self._bar.update(
            task_id,
            passed=self.tally.passed if counted else 0,
            failed=self.tally.failed if counted else 0,
            errors=self.tally.errors if counted else 0,
            rate=rate,
            cost=f"${cost:.4f}" if cost else "",
        )


def category_table(counts: dict[str, Counter[str]], title: str, cost_by_type: dict[str, float] | None = None) -> Table:
    table = Table(title=title)
    table.add_column("category")
    columns = ["passed", "failed", "errors", "pass rate"] + (["cost (USD)"] if cost_by_type is not None else [])
    for column in columns:
        table.add_column(column, justify="right")
    costs: Counter[str] = Counter()
    for key, cost in (cost_by_type or {}).items():
        costs[taxonomy.get(key).category] += cost
    total: Counter[str] = Counter()
    for category in taxonomy.categories():
        if category not in counts:
            continue
        total.update(counts[category])
        table.add_row(category, *_row(counts[category], costs[category] if cost_by_type is not None else None))
    table.add_row("[bold]all", *_row(total, sum(costs.values()) if cost_by_type is not None else None))
    return table


def _row(c: Counter[str], cost: float | None) -> list[str]:
    judged = c["passed"] + c["failed"]
    rate = f"{c['passed'] / judged:.2f}" if judged else "–"
    cells = [str(c["passed"]), str(c["failed"]), str(c["error"]), rate]
    return cells + ([f"{cost:.4f}"] if cost is not None else [])
