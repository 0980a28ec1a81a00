"""The typed records that flow through a run: Photo → Task → Attempt → Verdict → Example.

Every record round-trips through JSON (`model_dump_json` / `model_validate_json`); the ledger stores
them as JSON so a newer field never needs a schema migration. Image *pixels* never live in a record:
a record names an image by its path in the run's content-addressed store.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

CRITERIA: dict[str, float] = {
    # Pico-Banana-400K's judge rubric: criterion -> weight (they sum to 1).
    "instruction_compliance": 0.40,
    "seamlessness": 0.25,
    "preservation": 0.20,
    "technical_quality": 0.15,
}
DEFAULT_THRESHOLD = 0.7


def stable_id(*parts: object, length: int = 16) -> str:
    """A deterministic id from its parts, so a re-planned run names the same work the same way."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class ModelRef(Record):
    """Which model produced something, and under which prompt: scores drift with both."""

    provider: str
    model: str
    prompt_version: str = ""
    temperature: float | None = None

    def label(self) -> str:
        version = f"@{self.prompt_version}" if self.prompt_version else ""
        return f"{self.provider}/{self.model}{version}"


class Usage(Record):
    """What one model call cost."""

    input_tokens: int = 0
    output_tokens: int = 0
    images: int = 0  # images generated (editors are priced per image)
    cost_usd: float = 0.0  # filled by the engine from the price table, not by the provider
    device_seconds: float = 0.0  # accelerator time a local model spent on this call (its share of a batch)


class PhotoFacts(Record):
    """What a cheap look at the photo found: used to choose types and to ground instructions."""

    faces: list[tuple[int, int, int, int]] = Field(default_factory=list)  # x, y, w, h
    has_person: bool = False
    has_text: bool = False
    has_sky: bool = False
    mean_brightness: float = 0.0  # 0..1
    warmth: float = 0.0  # mean(R) - mean(B), -1..1
    saturation: float = 0.0  # 0..1
    dominant_colors: list[str] = Field(default_factory=list)  # colour names, most common first
    is_grayscale: bool = False


class Photo(Record):
    photo_id: str  # content hash of the decoded pixels
    uri: str  # where the photo came from: a path or URL (the release's `open_image_input_url`)
    image: str  # store path of the normalised RGB copy, relative to the run directory
    width: int
    height: int
    attribution: str | None = None
    license: str | None = None
    facts: PhotoFacts = Field(default_factory=PhotoFacts)


class SourceFailure(Record):
    """A photo that could not be used; failures are data, not crashes."""

    uri: str
    reason: str
    retryable: bool = False  # a transient failure (timeout, 5xx, 429): the next run tries this photo again


class Task(Record):
    """One photo + one edit type (+ a turn of a session): the unit that gets up to N attempts."""

    task_id: str
    photo_id: str
    edit_type: str  # taxonomy key
    seed: int
    turn: int = 1
    session_id: str | None = None
    input_image: str  # store path of the image this task edits (the photo, or the last accepted turn)
    history: list[str] = Field(default_factory=list)  # earlier turns' instructions in a session


class Session(Record):
    """A multi-turn session: a passing single-turn task (turn 1) extended by more edit types.

    Turn k ≥ 2 is a Task with this session_id, editing the image turn k−1 accepted, its instruction
    written knowing the earlier turns. `on_failed_turn` says what a turn with no passing attempt does:
    "end" the session there, or "skip" to the next planned type.
    """

    session_id: str
    photo_id: str
    first_task_id: str
    seed: int
    planned_types: list[str]  # edit types of turns 2..N, in order
    on_failed_turn: Literal["end", "skip"] = "end"


class Instruction(Record):
    """A model-written instruction (long, by the writer; short, by the rewriter)."""

    task_id: str
    kind: Literal["long", "short"]
    text: str
    model: ModelRef
    raw_reply: str = ""
    usage: Usage = Field(default_factory=Usage)
    # What the photo shows, in taxonomy.CONTENT_LABELS, as the writer model saw it (same call as the
    # instruction, the prompt version in `model`); None when the writer gives none (the offline one).
    labels: list[str] | None = None


class Attempt(Record):
    attempt_id: str
    task_id: str
    index: int  # 1-based
    seed: int
    instruction: str  # the instruction the editor was given (what the dataset's text is)
    # Attempts 2-3: the judge's reason for rejecting the previous attempt, sent to an editor that takes
    # it after the instruction (models.prompting.editor_retry_prompt); never part of `instruction`.
    feedback: str | None = None
    status: Literal["ok", "failed"]
    error: str | None = None
    output_image: str | None = None  # store path
    width: int | None = None
    height: int | None = None
    model: ModelRef
    raw_reply: str = ""
    usage: Usage = Field(default_factory=Usage)
    elapsed_s: float = 0.0


class Scores(Record):
    instruction_compliance: float = Field(ge=0.0, le=1.0)
    seamlessness: float = Field(ge=0.0, le=1.0)
    preservation: float = Field(ge=0.0, le=1.0)
    technical_quality: float = Field(ge=0.0, le=1.0)

    @field_validator("*")
    @classmethod
    def _finite(cls, v: float) -> float:
        if v != v:  # NaN passes ge/le checks; a NaN score is never a score
            raise ValueError("score is NaN")
        return v

    def weighted(self) -> float:
        return round(sum(getattr(self, name) * weight for name, weight in CRITERIA.items()), 6)


class Verdict(Record):
    """A judge's decision on one attempt. `status` says whether it is a score at all."""

    attempt_id: str
    task_id: str
    # "released": a published dataset's accept/reject decision without its scores (Pico-Banana-400K
    # released none); `decision` holds it. Never produced by our judges.
    status: Literal["scored", "abstained", "failed", "released"]
    scores: Scores | None = None
    decision: bool | None = None
    threshold: float = DEFAULT_THRESHOLD
    rationale: str = ""
    model: ModelRef
    raw_reply: str = ""
    usage: Usage = Field(default_factory=Usage)
    # Why the output is plainly unusable (no change, blank, another picture, wrecked), when the judge says
    # so: such an attempt fails at every threshold, whatever its weighted score.
    hard_fail: str | None = None
    # Multi-pass judging (judge_passes > 1): a pass verdict has its sample index; the verdict combined from
    # N passes keeps every pass's weighted score, so their spread is there to read and to re-filter by.
    pass_index: int | None = None
    pass_scores: list[float] = Field(default_factory=list)
    tiebreak: bool = False  # the passes disagreed across the threshold and a second judge decided

    @model_validator(mode="before")
    @classmethod
    def _drop_derived(cls, data: Any) -> Any:
        # `score` and `passed` are derived; a dumped verdict carries them, so accept and recompute.
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in ("score", "passed")}
        return data

    @model_validator(mode="after")
    def _decision_only_when_released(self) -> Verdict:
        if (self.status == "released") != (self.decision is not None):
            raise ValueError("a decision without scores is only a released dataset's verdict")
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def score(self) -> float | None:
        return self.scores.weighted() if self.scores is not None else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool | None:
        """True / False for a scored attempt; None when the judge abstained or failed."""
        if self.status == "released":
            return self.decision
        if self.status != "scored" or self.scores is None:
            return None
        return self.hard_fail is None and self.scores.weighted() >= self.threshold


class Example(Record):
    """A curated output row: an SFT example, or a preference pair (chosen + rejected attempts)."""

    kind: Literal["sft", "preference"]
    task_id: str
    chosen_attempt_id: str
    rejected_attempt_ids: list[str] = Field(default_factory=list)
