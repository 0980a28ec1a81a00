"""BatchingModel on its own: concurrent single calls become batch calls, one pass index per batch."""

from __future__ import annotations

import threading

from editforge.engine.devices.batching import BatchingModel


class RecordingJudge:
    """Answers each item with what it was asked, and records every batch call it got."""

    max_batch = 8
    batch_wait_s = 0.2

    def __init__(self) -> None:
        self.batches: list[tuple[int, list[str]]] = []

    def judge_many(self, sources, editeds, instructions, edit_types, sample: int = 0):  # noqa: ANN001, ANN201
        self.batches.append((sample, list(instructions)))
        return [f"{text}@{sample}" for text in instructions]


def test_judge_passes_are_batched_by_pass_index() -> None:
    model = RecordingJudge()
    batching = BatchingModel(model)
    results: dict[tuple[str, int], str] = {}

    def ask(text: str, sample: int) -> None:
        results[(text, sample)] = batching.judge(None, None, text, None, sample=sample)

    threads = [threading.Thread(target=ask, args=(f"i{i}", i % 2)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    batching.close()
    assert results == {(f"i{i}", i % 2): f"i{i}@{i % 2}" for i in range(6)}
    by_pass = {s: sorted(x for b, texts in model.batches if b == s for x in texts) for s in (0, 1)}
    assert by_pass == {0: ["i0", "i2", "i4"], 1: ["i1", "i3", "i5"]}
    assert len(model.batches) < 6  # gathered, not one call each
