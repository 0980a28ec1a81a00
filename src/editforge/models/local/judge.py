"""The local judge: a vision-language model (Qwen3-VL-8B-Instruct by default, or an EditScore LoRA) scores
an edit on the four criteria. A reply that does not parse is asked again (`retries` times, each sampled
with another seed) and then recorded as a judge failure with every raw reply: never a default score.

`batch_size` counts judged edits; with the editscore prompt each edit is two generations (two questions),
so a batch of 8 edits is one generate call of 16 rows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from editforge.models.base import JudgeReply, ModelCallError
from editforge.models.local.common import resolve_model
from editforge.models.local.generation import Sampling
from editforge.models.local.judge_schemes import DEFAULT_SCORE_RANGE, EditforgeScheme, EditScoreScheme, Scheme
from editforge.models.local.text_roles import LocalTextRole, plus, usage_of
from editforge.models.prompting import ReplyError
from editforge.models.registry import ProviderError
from editforge.records import Usage
from editforge.taxonomy import EditType

DEFAULT_MODEL = "Qwen/Qwen3-VL-8B-Instruct"
DEFAULT_RETRIES = 2


class LocalJudge(LocalTextRole):
    role = "judge"
    vision = True
    default_model = DEFAULT_MODEL
    default_sampling = Sampling(temperature=0.0, max_new_tokens=384)
    extra_options = frozenset({"retries", "retry_temperature", "adapter", "prompt", "score_range"})

    def __init__(self, model: str | None, options: dict[str, Any]) -> None:
        prompt = options.get("prompt", "editforge")
        try:
            self.retries = int(options.get("retries", DEFAULT_RETRIES))
            self.retry_temperature = float(options.get("retry_temperature", 0.7))
            score_range = int(options.get("score_range", DEFAULT_SCORE_RANGE))
        except (TypeError, ValueError) as exc:
            raise ProviderError(f"local judge: bad option value ({exc})") from None
        if self.retries < 0 or self.retry_temperature <= 0 or score_range < 1:
            raise ProviderError("local judge: need retries ≥ 0, retry_temperature > 0, score_range ≥ 1")
        if prompt not in ("editforge", "editscore"):
            raise ProviderError(f"local judge: prompt must be 'editforge' or 'editscore', got {prompt!r}")
        self.scheme: Scheme = EditScoreScheme(score_range) if prompt == "editscore" else EditforgeScheme()
        adapter = options.get("adapter")
        self.adapter = resolve_model("judge adapter", str(adapter), "adapter_config.json") if adapter else None
        if self.adapter is not None:
            from editforge.models.local.common import require_extras

            require_extras("judge adapter", ("peft",))
        super().__init__(model, options)

    def model_label(self) -> str:
        # An adapter changes the scores, so it is part of the model's name in every record.
        return f"{self.resolved.name}+{self.adapter.name}" if self.adapter else self.resolved.name

    def prompt_version(self) -> str:
        return self.scheme.version

    def adapter_path(self) -> Path | None:
        return self.adapter.path if self.adapter else None

    def judge_many(
        self,
        sources: list[np.ndarray],
        editeds: list[np.ndarray],
        instructions: list[str],
        edit_types: list[EditType],
        sample: int = 0,
    ) -> list[JudgeReply | ModelCallError]:
        """`sample` > 0 asks for another sample of the same judgments (multi-pass judging): it samples
        (at retry_temperature if the configured sampling is greedy) with seeds of its own."""
        parts = [self.scheme.parts(*item) for item in zip(sources, editeds, instructions, edit_types, strict=True)]
        parsed: list[list[Any]] = [[None] * len(p) for p in parts]
        raws: list[list[list[str]]] = [[[] for _ in p] for p in parts]  # every reply to every part, in order
        usage = [Usage() for _ in parts]
        errors: dict[int, ReplyError] = {}
        pending = [(item, index) for item, item_parts in enumerate(parts) for index in range(len(item_parts))]
        for attempt in range(self.retries + 1):
            if not pending:
                break
            # The first ask uses the configured sampling (greedy by default); each retry samples with seed = attempt.
            greedy = attempt == 0 and not (sample and self.sampling.temperature == 0)
            sampling = self.sampling if greedy else replace(self.sampling, temperature=self.retry_temperature)
            asked = [parts[item][index] for item, index in pending]
            seed = attempt + 1000 * sample
            generated = self.loaded.generate(
                [p.prompt for p in asked], [p.images for p in asked], [seed] * len(asked), sampling
            )
            still: list[tuple[int, int]] = []
            for (item, index), g in zip(pending, generated, strict=True):
                usage[item] = plus(usage[item], usage_of(g))
                raws[item][index].append(g.raw)
                try:
                    parsed[item][index] = self.scheme.parse(index, g.text)
                except ReplyError as exc:
                    errors[item] = exc
                    still.append((item, index))
            pending = still
        unparsed = {item for item, _ in pending}
        return [
            self._failure(errors[item], raws[item], usage[item])
            if item in unparsed
            else self._reply(done, raws[item], usage[item])
            for item, done in enumerate(parsed)
        ]

    def _raw(self, raws: list[list[str]]) -> str:
        return "\n---\n".join(text for part in raws for text in part)

    def _reply(self, parsed: list[Any], raws: list[list[str]], usage: Usage) -> JudgeReply:
        scores, rationale = self.scheme.combine(parsed)
        return JudgeReply(scores=scores, rationale=rationale, raw=self._raw(raws), usage=usage)

    def _failure(self, error: ReplyError, raws: list[list[str]], usage: Usage) -> ModelCallError:
        asked = self.retries + 1
        return ReplyError(f"{error.reason} (asked {asked} time{'s' if asked > 1 else ''})", self._raw(raws), usage)

    def judge(
        self, source: np.ndarray, edited: np.ndarray, instruction: str, edit_type: EditType, sample: int = 0
    ) -> JudgeReply:
        (reply,) = self.judge_many([source], [edited], [instruction], [edit_type], sample=sample)
        if isinstance(reply, ModelCallError):
            raise reply
        return reply


def build(model: str | None, options: dict[str, Any]) -> LocalJudge:
    return LocalJudge(model, options)
