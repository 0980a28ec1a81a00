"""Helpers for the local-model tests: make a loaded tiny model *emit* chosen text.

Only the tokens generate() picks are forced (a logits processor appended last, so it overrides sampling);
the chat template, processor, image encoding, generation loop, decoding and reply parsing all run for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _forcing_processor(targets: list[list[int]], prompt_length: int, eos_id: int) -> Any:
    import torch
    from transformers import LogitsProcessor

    class ForceTokens(LogitsProcessor):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            step = input_ids.shape[1] - prompt_length
            chosen = [row[step] if step < len(row) else eos_id for row in targets]
            forced = torch.full_like(scores, float("-inf"))
            return forced.scatter(-1, torch.tensor(chosen, device=scores.device).unsqueeze(-1), 0.0)

    return ForceTokens()


@contextmanager
def forced_replies(role: Any, *calls: list[str]) -> Iterator[list[int]]:
    """Within the block, the n-th generate call of `role`'s loaded model emits calls[n] (one text per row).

    Yields a list that receives each call's batch size, so a test can see how the role batched its work."""
    loaded = role.loaded
    model, tokenizer = loaded.model, loaded.tokenizer
    original = model.generate
    pending = list(calls)
    batch_sizes: list[int] = []

    def generate(*args: Any, **kwargs: Any) -> Any:
        texts = pending.pop(0)
        prompt = kwargs["input_ids"]
        assert prompt.shape[0] == len(texts), f"generate got {prompt.shape[0]} rows, the test forced {len(texts)}"
        batch_sizes.append(prompt.shape[0])
        targets = [tokenizer.encode(text, add_special_tokens=False) for text in texts]
        force = _forcing_processor(targets, prompt.shape[1], tokenizer.eos_token_id)
        kwargs["logits_processor"] = [*kwargs.get("logits_processor", []), force]
        kwargs["max_new_tokens"] = max(kwargs.get("max_new_tokens", 0), max(map(len, targets)) + 1)
        return original(*args, **kwargs)

    model.generate = generate
    try:
        yield batch_sizes
    finally:
        del model.generate  # back to the class's method
    assert not pending, f"{len(pending)} forced call(s) never happened"
