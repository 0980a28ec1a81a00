"""A run's configuration: one pydantic model, loadable from YAML, every field also a CLI flag.

A YAML file is the versionable form of a run; the CLI's flags override what the file says. Unknown
keys are errors (with the key named), because a misspelt `max_atempts` silently ignored costs money.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from editforge import taxonomy
from editforge.models.prices import Price
from editforge.records import DEFAULT_THRESHOLD


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the file and the field."""


class RoleSpec(BaseModel):
    """Which provider plays a role, with which model and options."""

    model_config = ConfigDict(extra="forbid")

    provider: str = "offline"
    model: str | None = None  # None: the provider's default for the role
    options: dict[str, Any] = Field(default_factory=dict)


class Roles(BaseModel):
    model_config = ConfigDict(extra="forbid")

    writer: RoleSpec = Field(default_factory=RoleSpec)
    rewriter: RoleSpec = Field(default_factory=RoleSpec)
    editor: RoleSpec = Field(default_factory=RoleSpec)
    judge: RoleSpec = Field(default_factory=RoleSpec)
    # With judge_passes > 1: the judge that decides when the passes disagree across the threshold.
    tiebreak: RoleSpec | None = None


class ModelLimits(BaseModel):
    """How hard one model may be called: requests and tokens per minute, calls in flight."""

    model_config = ConfigDict(extra="forbid")

    rpm: float | None = Field(default=None, gt=0)
    tpm: float | None = Field(default=None, gt=0)
    concurrency: int = Field(default=8, ge=1)


class RetryPolicy(BaseModel):
    """Retries of transient failures (429, 5xx, timeouts): exponential backoff with jitter, and never
    sooner than a server's Retry-After."""

    model_config = ConfigDict(extra="forbid")

    max_tries: int = Field(default=6, ge=1)  # tries of a call failing with 5xx / timeouts / dropped connections
    base_s: float = Field(default=1.0, ge=0)
    max_wait_s: float = Field(default=60.0, ge=0)
    rate_limit_patience_s: float = Field(default=900.0, ge=0)  # how long 429s are waited out before deferring


class Targets(BaseModel):
    """How many examples of each subset to aim for; the run stops starting work once they are met."""

    model_config = ConfigDict(extra="forbid")

    sft: int | None = Field(default=None, ge=0)
    preference: int | None = Field(default=None, ge=0)
    multi_turn: int | None = Field(default=None, ge=0)


class SessionSettings(BaseModel):
    """Multi-turn sessions: a passing single-turn example extended by 1–4 more edit types."""

    model_config = ConfigDict(extra="forbid")

    lengths: dict[int, float] = Field(default_factory=lambda: {2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0})  # turns → weight
    on_failed_turn: Literal["end", "skip"] = "end"  # a turn with no passing attempt ends the session, or is skipped

    @field_validator("lengths")
    @classmethod
    def _two_to_five(cls, value: dict[int, float]) -> dict[int, float]:
        if not value or any(not 2 <= k <= 5 or w < 0 for k, w in value.items()) or not sum(value.values()):
            raise ValueError("session lengths are 2..5 turns with non-negative weights, not all zero")
        return value


class RayPool(BaseModel):
    """One pool of Ray actors: how many (autoscaled between the bounds by demand), and what each asks for."""

    model_config = ConfigDict(extra="forbid")

    min_actors: int = Field(default=1, ge=0)  # kept alive even when idle
    max_actors: int | None = Field(default=None, ge=1)  # None: `workers` for the CPU pool, 1 per device role
    num_cpus: float = Field(default=1.0, ge=0)
    num_gpus: float = Field(default=0.0, ge=0)  # device roles default to 1 GPU each (see RaySettings.pool)
    # Calls one actor runs at once. None: 1 for CPU actors; 2 × the model's batch size for a device role (its
    # calls meet in a batcher, and one batch fills while the previous one runs on the device).
    max_concurrency: int | None = Field(default=None, ge=1)


class RaySettings(BaseModel):
    """How `engine: ray` lays the run out on a Ray cluster (docs/scale.md)."""

    model_config = ConfigDict(extra="forbid")

    local_cpus: int = Field(default=4, ge=1)  # logical CPUs of a Ray this run starts itself (no address given)
    cpu: RayPool = Field(default_factory=RayPool)  # offline roles, ingest and the prefilter share one pool
    roles: dict[Literal["writer", "rewriter", "editor", "judge"], RayPool] = Field(default_factory=dict)
    resubmits: int = Field(default=3, ge=0)  # a call whose actor died is sent to another this many times
    idle_s: float = Field(default=60.0, gt=0)  # an actor above min_actors idle this long is released

    def pool(self, role: str, execution: str, workers: int) -> RayPool:
        """The pool settings for a role, with the defaults filled in: a device role gets 1 GPU per actor."""
        if execution != "device":
            spec = self.cpu
            return spec if spec.max_actors else spec.model_copy(update={"max_actors": max(workers, spec.min_actors)})
        spec = self.roles.get(role) or RayPool(num_gpus=1.0)  # type: ignore[call-overload]
        return spec if spec.max_actors else spec.model_copy(update={"max_actors": max(1, spec.min_actors)})


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    out: Path
    source: Literal["folder", "samples", "urls"] = "folder"
    images: Path | None = None  # the photo folder, for source: folder
    urls: Path | None = None  # a .txt of URLs or a .csv with a URL column (Open Images), for source: urls
    max_download_mb: float = Field(default=30.0, gt=0)  # a URL's photo may not be bigger than this
    allow_private_urls: bool = False  # fetch from loopback/private addresses too (a local mirror)
    download_connections: int = Field(default=32, ge=1, le=1024)  # URL downloads in flight at once
    download_deadline_s: float = Field(default=60.0, gt=0)  # the most one URL's whole download may take
    photos: int | None = Field(default=None, ge=1)  # use at most this many photos
    per_photo: int = Field(default=3, ge=1, le=35)  # edit types planned per photo
    edit_types: list[str] | None = None  # restrict to these types (keys or release strings)
    max_attempts: int = Field(default=3, ge=1, le=10)
    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    seed: int = 0
    workers: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1), ge=1)
    max_side: int = Field(default=1024, ge=64)  # photos are downscaled to this longest side
    type_weights: Literal["uniform", "picobanana"] | dict[str, float] = "uniform"  # edit-type distribution
    targets: Targets = Field(default_factory=Targets)
    sessions: SessionSettings = Field(default_factory=SessionSettings)
    align: Literal["none", "resize", "pad", "crop"] = "none"  # restore edits to the source geometry on export
    exports: list[Literal["picobanana", "hf", "webdataset"]] = Field(default_factory=lambda: ["picobanana"])
    roles: Roles = Field(default_factory=Roles)
    limits: dict[str, ModelLimits] = Field(default_factory=dict)  # per model name, for hosted models
    retries: RetryPolicy = Field(default_factory=RetryPolicy)
    timeout_s: float = Field(default=300.0, gt=0)  # the longest any one model call may take
    # The longest a local call (CPU work, a model on a device) may run once a worker has it; past it the
    # worker is deemed hung: a device worker is killed and replaced, and the call retried.
    local_timeout_s: float = Field(default=600.0, gt=0)
    stuck_after_s: float = Field(default=120.0, gt=0)  # the watchdog names calls running longer
    budget_usd: float | None = Field(default=None, ge=0)  # stop cleanly before spending more
    prices: dict[str, Price] = Field(default_factory=dict)  # USD; overrides the shipped table
    judge_passes: int = Field(default=1, ge=1, le=9)  # a sampling judge scores each attempt N times; the mean counts
    judge_prefilter: bool = True  # the metric judge first: unchanged/broken edits never reach a paid judge
    # Retries told why the last attempt failed, and no third attempt after two failing the same way
    # (engine.flow); false gives the plain three tries (the benchmark's naive pipeline).
    smart_retries: bool = True
    engine: Literal["local", "ray"] = "local"  # where the work runs; the run directory is the same either way
    ray_address: str | None = None  # a cluster ("auto", "ray://head:10001"); else RAY_ADDRESS; else a local Ray
    ray: RaySettings = Field(default_factory=RaySettings)
    images_uri: str | None = None  # the image store elsewhere (s3://…, gs://…, file://…), through fsspec

    @field_validator("edit_types")
    @classmethod
    def _known_types(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        try:
            found = [taxonomy.get(name).key for name in value]
        except KeyError as exc:
            raise ValueError(exc.args[0]) from exc
        if taxonomy.UNSPECIFIED.key in found:
            raise ValueError("'unspecified' marks imported turns without a type; it cannot be planned")
        return found

    @field_validator("type_weights")
    @classmethod
    def _known_weighted_types(cls, value: str | dict[str, float]) -> str | dict[str, float]:
        if isinstance(value, str):
            return value
        try:
            weights = {taxonomy.get(name).key: float(w) for name, w in value.items()}
        except KeyError as exc:
            raise ValueError(exc.args[0]) from exc
        if any(w < 0 for w in weights.values()) or not sum(weights.values()):
            raise ValueError("type weights must be non-negative and not all zero")
        return weights

    @model_validator(mode="after")
    def _passes_need_a_sampling_judge(self) -> RunConfig:
        if self.judge_passes > 1 and self.roles.judge.provider == "offline":
            raise ValueError(
                "judge_passes > 1 needs a judge that samples (a VLM: gemini, openai, local); "
                "the offline metric judge measures, and would give the same score every pass"
            )
        if self.roles.tiebreak is not None and self.judge_passes < 2:
            raise ValueError("roles.tiebreak decides between disagreeing judge passes: set judge_passes ≥ 2")
        return self

    def weight_of(self) -> dict[str, float]:
        """Edit type → relative weight in the plan."""
        if self.type_weights == "uniform":
            return dict.fromkeys(taxonomy.keys(), 1.0)
        if self.type_weights == "picobanana":
            return {t.key: float(t.paper_count) for t in taxonomy.all_types()}
        return {k: self.type_weights.get(k, 0.0) for k in taxonomy.keys()}  # type: ignore[union-attr]

    def check_runnable(self) -> None:
        if self.source == "urls" and (self.urls is None or not self.urls.is_file()):
            raise ConfigError(f"--urls {self.urls}: not a file (a .txt of URLs or a .csv with a URL column)")
        if self.source == "folder" and self.images is None:
            raise ConfigError("no photos: pass --images DIR (or `images:` in the config file)")
        if self.source == "folder" and self.images is not None and not self.images.is_dir():
            raise ConfigError(f"--images {self.images}: not a directory")


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    base = path.parent
    for key in ("out", "images", "urls"):  # relative paths in a config file are relative to the file
        if isinstance(data.get(key), str) and not Path(data[key]).is_absolute():
            data[key] = str(base / data[key])
    return data


def build_config(file_values: dict[str, Any], overrides: dict[str, Any], origin: str = "config") -> RunConfig:
    """Merge a config file's values with CLI overrides (None means 'not given') and validate."""
    merged = dict(file_values)
    merged.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return RunConfig.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{origin}: {problems}") from exc
