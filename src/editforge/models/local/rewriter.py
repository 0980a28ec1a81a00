"""The local rewriter: a causal LM (Qwen2.5-7B-Instruct by default, Pico-Banana's own rewriter) turns a
detailed instruction into the short one a person would type, with the hosted rewriters' prompt and parser."""

from __future__ import annotations

from typing import Any

from editforge.models import prompting
from editforge.models.base import ModelCallError, TextReply
from editforge.models.local.generation import Sampling
from editforge.models.local.text_roles import LocalTextRole, failed, usage_of
from editforge.taxonomy import EditType

DEFAULT_MODEL = "Qwen/Qwen2.5-7B-Instruct"


class LocalRewriter(LocalTextRole):
    role = "rewriter"
    vision = False
    default_model = DEFAULT_MODEL
    default_sampling = Sampling(temperature=0.7, max_new_tokens=64)

    def rewrite_many(
        self, long_instructions: list[str], edit_types: list[EditType], seeds: list[int]
    ) -> list[TextReply | ModelCallError]:
        prompts = [prompting.rewriter_prompt(text) for text in long_instructions]
        generated = self.loaded.generate(prompts, None, seeds, self.sampling)
        replies: list[TextReply | ModelCallError] = []
        for g in generated:
            usage = usage_of(g)
            try:
                replies.append(TextReply(text=prompting.parse_instruction_reply(g.text), raw=g.raw, usage=usage))
            except ModelCallError as exc:
                replies.append(failed(exc, g))
        return replies

    def rewrite(self, long_instruction: str, edit_type: EditType, seed: int) -> TextReply:
        (reply,) = self.rewrite_many([long_instruction], [edit_type], [seed])
        if isinstance(reply, ModelCallError):
            raise reply
        return reply


def build(model: str | None, options: dict[str, Any]) -> LocalRewriter:
    return LocalRewriter(model, options)
