"""What a person watching a run sees: a live bar while it runs, a table when it ends."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from editforge import taxonomy
from editforge.store.ledger import Ledger


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
        self._bar = _Bars(
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
        self._marks: dict[str, Counter[str]] = {}

    def __enter__(self) -> RunProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)

    def devices(self, line: str) -> None:
        """The local models' line under the bars (see device_line)."""
        self._bar.footer = f"[bold]models[/] {line}" if line else ""
        self._bar.refresh()

    def start(self, name: str, total: int, done: int = 0) -> None:
        self._marks[name] = Counter()
        self._ids[name] = self._bar.add_task(
            name, total=total, completed=done, passed=0, failed=0, errors=0, rate="", cost=""
        )

    def grow(self, name: str, more: int) -> None:
        task_id = self._ids[name]
        self._bar.update(task_id, total=(self._bar.tasks[task_id].total or 0) + more)

    def advance(self, name: str, edit_type: str | None = None, status: str | None = None, cost: float = 0.0) -> None:
        """One item of bar `name` is done. Tasks pass, fail or err; a session that became a multi-turn
        example (complete or ended after ≥2 turns) is a ✓, one that did not a ✗."""
        task_id = self._ids[name]
        if edit_type and status:
            self.tally.add(edit_type, status)
        if status:
            self._marks[name][_MARK.get(status, "errors")] += 1
        self._bar.advance(task_id)
        elapsed = self._bar.tasks[task_id].elapsed or 0.0
        done = self._bar.tasks[task_id].completed
        rate = f"{done / elapsed:.2f}/s" if elapsed > 0 else ""
        marks = self._marks[name]
        self._bar.update(
            task_id,
            passed=marks["passed"],
            failed=marks["failed"],
            errors=marks["errors"],
            rate=rate,
            cost=f"${cost:.4f}" if cost else "",
        )


def single_turn_by_category(ledger: Ledger) -> dict[str, Counter[str]]:
    """Single-turn tasks by category and status, from the ledger: what the summary line and the SFT and
    preference files count, however many runs (resumes) it took."""
    counts: dict[str, Counter[str]] = {}
    for edit_type, status, n in ledger.counts_by_type(single_turn=True):
        if status != "planned":
            counts.setdefault(taxonomy.get(edit_type).category, Counter())[status] += n
    return counts


# How a finished item shows on its bar: tasks by their status, sessions by whether they made an example.
_MARK = {"passed": "passed", "failed": "failed", "error": "errors", "complete": "passed", "ended": "passed"}


class _Bars(Progress):
    """The bars, and a footer line under them (the device workers' rates and memory)."""

    footer = ""

    def get_renderables(self) -> Iterable[RenderableType]:
        yield from super().get_renderables()
        if self.footer:
            yield Text.from_markup(self.footer)


def category_table(
    counts: dict[str, Counter[str]],
    title: str,
    cost_by_type: dict[str, float] | None = None,
    device_s_by_type: dict[str, float] | None = None,
) -> Table:
    """Per category: passed, failed, errors, pass rate; the cost when a run paid; and when local models ran,
    the device-seconds (GPU-seconds on a GPU) each kept example took, its failed attempts included."""
    table = Table(title=title)
    table.add_column("category")
    columns = ["passed", "failed", "errors", "pass rate"] + (["cost (USD)"] if cost_by_type is not None else [])
    columns += ["device-s / kept"] if device_s_by_type else []
    for column in columns:
        table.add_column(column, justify="right")
    costs, device_s = _by_category(cost_by_type), _by_category(device_s_by_type)
    total: Counter[str] = Counter()
    for category in taxonomy.categories():
        if category not in counts:
            continue
        total.update(counts[category])
        cost = costs[category] if cost_by_type is not None else None
        table.add_row(category, *_row(counts[category], cost, device_s[category] if device_s_by_type else None))
    all_cost = sum(costs.values()) if cost_by_type is not None else None
    table.add_row("[bold]all", *_row(total, all_cost, sum(device_s.values()) if device_s_by_type else None))
    return table


def _by_category(by_type: dict[str, float] | None) -> Counter[str]:
    out: Counter[str] = Counter()
    for key, value in (by_type or {}).items():
        out[taxonomy.get(key).category] += value
    return out


def _row(c: Counter[str], cost: float | None, device_s: float | None = None) -> list[str]:
    judged = c["passed"] + c["failed"]
    rate = f"{c['passed'] / judged:.2f}" if judged else "–"
    cells = [str(c["passed"]), str(c["failed"]), str(c["error"]), rate]
    cells += [f"{cost:.4f}"] if cost is not None else []
    if device_s is not None:
        cells.append(f"{device_s / c['passed']:.2f}" if c["passed"] else "–")
    return cells


def device_line(pools: list[dict[str, Any]]) -> str:
    """One line on the local models' workers: calls/s per role, mean batch, device memory, and trouble."""
    parts, memory, trouble = [], 0, Counter[str]()
    for p in pools:
        if not p["ready"]:
            parts.append(f"{p['role']} loading")
            continue
        rate = p["items"] / p["busy_s"] if p["busy_s"] > 0 else 0.0
        batch = f" (batch {p['items'] / p['batches']:.1f})" if p["batches"] else ""
        parts.append(f"{p['role']} {rate:.2f} img/s{batch}")
        memory += p["memory"] or 0
        trouble.update(oom=p["oom_halvings"], crashed=p["crashes"], hung=p["hangs"])
    if memory:
        parts.append(f"GPU {memory / 2**30:.1f} GiB")
    notes = [f"{n} {what}" for what, n in (("OOM halvings", trouble["oom"]), ("crashed", trouble["crashed"]),
                                         ("hung", trouble["hung"])) if n]  # fmt: skip
    return " · ".join(parts + ([", ".join(notes)] if notes else []))
