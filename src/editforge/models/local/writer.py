"""The local writer: a vision-language model (Qwen3-VL-8B-Instruct by default) writes one detailed
instruction per photo with the same versioned prompt and parser as the hosted writers."""

from __future__ import annotations

from typing import Any

from editforge.models import prompting
from editforge.models.base import ModelCallError, TextReply, WriteRequest
from editforge.models.local.generation import Sampling
from editforge.models.local.text_roles import LocalTextRole, failed, usage_of

DEFAULT_MODEL = "Qwen/Qwen3-VL-8B-Instruct"


class LocalWriter(LocalTextRole):
    role = "writer"
    vision = True
    default_model = DEFAULT_MODEL
    default_sampling = Sampling(temperature=0.7, max_new_tokens=256)

    def write_many(self, requests: list[WriteRequest]) -> list[TextReply | ModelCallError]:
        prompts = [prompting.writer_prompt(r.edit_type, r.history) for r in requests]
        images = [[r.image] for r in requests]
        generated = self.loaded.generate(prompts, images, [r.seed for r in requests], self.sampling)
        replies: list[TextReply | ModelCallError] = []
        for g in generated:
            usage = usage_of(g)
            try:
                text, labels = prompting.parse_writer_reply(g.text)
                replies.append(TextReply(text=text, raw=g.raw, usage=usage, labels=labels))
            except ModelCallError as exc:
                replies.append(failed(exc, g))
        return replies

    def write(self, request: WriteRequest) -> TextReply:
        (reply,) = self.write_many([request])
        if isinstance(reply, ModelCallError):
            raise reply
        return reply


def build(model: str | None, options: dict[str, Any]) -> LocalWriter:
    return LocalWriter(model, options)
