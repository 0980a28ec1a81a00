"""How a local judge asks and reads: editforge's own rubric (one reply, four criteria) or EditScore's
VIEScore-style pair of prompts (two replies, two sub-scores each) mapped onto the four criteria.

A scheme turns one judged edit into prompt parts (text + images, each one generation), parses each part's
reply strictly (ReplyError, never a default), and combines the parsed parts into Scores.

EditScore (VectorSpaceLab, Apache-2.0) asks a semantic-consistency question (source then edited image:
[editing success, over-editing]) and a perceptual-quality one (edited image: [naturalness, artifacts]),
each on 0..score_range. The mapping, each divided by score_range:
    editing success → instruction_compliance     over-editing → preservation
    naturalness     → seamlessness               artifacts    → technical_quality
EditScore's own code repairs unparseable replies by pulling any numbers out of them and, in its batch
mode, substitutes a middle score when it finds none; here such a reply is retried, then a judge failure.
Its Qwen2.5-VL wrapper labels images "<img1>: ..." in a hand-written template; this uses the model's own
chat template (as EditScore's Qwen3-VL wrapper does), which may shift a 2.5-VL checkpoint's scores slightly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from editforge.models import prompting
from editforge.models.prompting import ReplyError
from editforge.records import Scores
from editforge.taxonomy import EditType

EDITSCORE_VERSION = "editscore.v1"
DEFAULT_SCORE_RANGE = 25  # EditScore's default: it rescales 0..10 wording to 0..25


@dataclass
class Part:
    prompt: str
    images: list[np.ndarray]


class Scheme(Protocol):
    version: str

    def parts(self, source: np.ndarray, edited: np.ndarray, instruction: str, edit_type: EditType) -> list[Part]: ...

    def parse(self, index: int, raw: str) -> Any: ...

    def combine(self, parsed: list[Any]) -> tuple[Scores, str]: ...


class EditforgeScheme:
    version = prompting.PROMPT_VERSION["judge"]

    def parts(self, source: np.ndarray, edited: np.ndarray, instruction: str, edit_type: EditType) -> list[Part]:
        # The hosted judges' order: the EDITED image first, then the SOURCE, then the prompt.
        return [Part(prompting.judge_prompt(instruction, edit_type), [edited, source])]

    def parse(self, index: int, raw: str) -> tuple[Scores, str]:
        return prompting.parse_judge_reply(raw)

    def combine(self, parsed: list[Any]) -> tuple[Scores, str]:
        return parsed[0]


class EditScoreScheme:
    version = EDITSCORE_VERSION

    def __init__(self, score_range: int = DEFAULT_SCORE_RANGE) -> None:
        self.score_range = score_range

    def parts(self, source: np.ndarray, edited: np.ndarray, instruction: str, edit_type: EditType) -> list[Part]:
        semantic = prompting.render_template("editscore_sc.v1", scale=self.score_range, instruction=instruction)
        quality = prompting.render_template("editscore_pq.v1", scale=self.score_range)
        return [Part(semantic, [source, edited]), Part(quality, [edited])]

    def parse(self, index: int, raw: str) -> tuple[list[float], str]:
        """EditScore's reply: {"reasoning": "...", "score": [a, b]} with both in 0..score_range."""
        what = ("semantic consistency", "perceptual quality")[index]
        value = prompting.json_object(raw or "")
        score, reasoning = value.get("score"), value.get("reasoning")
        if not isinstance(score, list) or len(score) != 2:
            raise ReplyError(f"EditScore {what} reply has no two-item score list (got {score!r})", raw)
        numbers: list[float] = []
        for item in score:
            if isinstance(item, bool) or not isinstance(item, int | float) or math.isnan(item):
                raise ReplyError(f"EditScore {what} score {item!r} is not a number", raw)
            if not 0 <= item <= self.score_range:
                raise ReplyError(f"EditScore {what} score {item!r} is outside 0..{self.score_range}", raw)
            numbers.append(float(item) / self.score_range)
        if not isinstance(reasoning, str):
            raise ReplyError(f"EditScore {what} reply has no reasoning text", raw)
        return numbers, reasoning.strip()

    def combine(self, parsed: list[Any]) -> tuple[Scores, str]:
        (success, overediting), semantic_why = parsed[0]
        (naturalness, artifacts), quality_why = parsed[1]
        scores = Scores(
            instruction_compliance=success,
            preservation=overediting,
            seamlessness=naturalness,
            technical_quality=artifacts,
        )
        return scores, f"{semantic_why} | {quality_why}"
