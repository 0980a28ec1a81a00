"""What a person watching a run sees: each bar counts its own items (sessions included), the `models` line of
its local models and the device-seconds column."""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console

from editforge import taxonomy
from editforge.engine.progress import RunProgress, category_table, device_line


def _pool(role: str, **stats: object) -> dict[str, object]:
    base = {"role": role, "ready": 1, "items": 0, "batches": 0, "busy_s": 0.0, "memory": None}
    return {**base, "oom_halvings": 0, "crashes": 0, "hangs": 0, **stats}


def test_the_models_line_shows_rates_batches_memory_and_trouble() -> None:
    line = device_line(
        [
            _pool("editor", items=30, batches=30, busy_s=60.0, memory=3 * 2**30, crashes=1),
            _pool("judge", items=64, batches=8, busy_s=32.0, memory=2**30, oom_halvings=2),
            _pool("writer", ready=0),
        ]
    )
    assert line.startswith("editor 0.50 img/s (batch 1.0) · judge 2.00 img/s (batch 8.0) · writer loading")
    assert "GPU 4.0 GiB" in line  # summed over the workers that report it
    assert line.endswith("2 OOM halvings, 1 crashed")
    assert "GPU" not in device_line([_pool("judge", items=4, batches=1, busy_s=2.0)])  # a CPU reports no memory


def test_the_end_table_shows_device_seconds_per_kept_example() -> None:
    style = [t.key for t in taxonomy.all_types() if t.category == "Stylistic"]
    counts = {"Stylistic": Counter(passed=4, failed=2), "Human-Centric": Counter(failed=3)}
    table = category_table(counts, "t", device_s_by_type={style[0]: 6.0, style[1]: 4.0})
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert "device-s / kept" in text
    stylistic = next(line for line in text.splitlines() if "Stylistic" in line)
    assert stylistic.rstrip(" │").endswith("2.50")  # 10 device-seconds over 4 kept examples
    plain = Console(width=200, record=True)
    plain.print(category_table(counts, "t"))
    assert "device-s" not in plain.export_text()  # runs without local models keep the old table


def _bar_line(progress: RunProgress, name: str) -> str:
    out = io.StringIO()
    Console(file=out, width=200).print(progress._bar.get_renderable())
    return next(line for line in out.getvalue().splitlines() if line.startswith(name))


def test_the_sessions_bar_counts_sessions_that_made_examples() -> None:
    progress = RunProgress(Console(file=io.StringIO()), quiet=True)
    progress.start("tasks", total=2)
    progress.start("sessions", total=3)
    progress.advance("tasks", "color_tone", "passed")
    progress.advance("tasks", "color_tone", "failed")
    for status in ("complete", "ended", "failed"):
        progress.advance("sessions", status=status)
    assert "✓ 2 ✗ 1 ! 0" in _bar_line(progress, "sessions")
    assert "✓ 1 ✗ 1 ! 0" in _bar_line(progress, "tasks")
    assert sum(sum(c.values()) for c in progress.tally.by_category.values()) == 2  # sessions are not tasks
