"""What the transformers roles (writer, judge, rewriter) share: options, the cheap build, load(device),
and the single-call methods as one-item batches.

Options, per role (all optional; a misspelt one is an error):
    devices        list of devices, e.g. ["cuda:0", "cuda:1"] (default ["auto"]: cuda:0 if torch sees
                   a GPU, else cpu; resolved in the worker so the runner never imports torch)
    batch_size     most items per generate call (default 8; the engine's batcher fills it)
    batch_wait_s   how long the batcher waits to fill a batch (default 0.05)
    dtype          auto (bf16 on CUDA, float32 on CPU), bfloat16, float16, float32
    temperature    sampling temperature; 0 is greedy (defaults: writer, rewriter 0.7; judge 0)
    top_p, top_k   nucleus / top-k sampling (defaults 0.8 / 20, Qwen's own)
    max_new_tokens longest reply (writer 256, rewriter 64, judge 384)
judge only:
    retries        extra attempts for a reply that does not parse, each sampled with another seed (default 2)
    retry_temperature  temperature of those attempts (default 0.7)
    adapter        a LoRA folder or hub id (e.g. an EditScore checkpoint), merged at load through peft
    prompt         "editforge" (default: prompts/judge.v1.j2) or "editscore" (EditScore's own VIEScore-style
                   prompts, for its checkpoints; see editscore.py)
    score_range    editscore prompt only: the scale it asks for (default 25, as EditScore was trained)
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from editforge import taxonomy
from editforge.models.base import ModelCallError
from editforge.models.local.common import (
    Placement,
    ResolvedModel,
    check_options,
    read_json,
    require_extras,
    resolve_device,
    resolve_model,
)
from editforge.models.local.generation import Generated, Sampling, TextModel
from editforge.models.registry import ProviderError
from editforge.records import ModelRef, Usage

DEFAULT_BATCH = 8
SAMPLING_OPTIONS = frozenset({"temperature", "top_p", "top_k", "max_new_tokens"})


def usage_of(generated: Generated) -> Usage:
    return Usage(
        input_tokens=generated.input_tokens,
        output_tokens=generated.output_tokens,
        device_seconds=generated.device_seconds,
    )


def plus(a: Usage, b: Usage) -> Usage:
    return Usage(
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        images=a.images + b.images,
        device_seconds=a.device_seconds + b.device_seconds,
    )


def failed(exc: ModelCallError, generated: Generated) -> ModelCallError:
    """`exc` carrying the whole reply (a thought included) and the usage of the generation that produced it."""
    exc.raw = generated.raw
    exc.usage = plus(exc.usage, usage_of(generated))
    return exc


class LocalTextRole:
    """A cheap, unloaded role object; `load(device)` loads the weights once (the engine's device worker)."""

    role: ClassVar[str]
    vision: ClassVar[bool]
    default_model: ClassVar[str]
    default_sampling: ClassVar[Sampling]
    extra_options: ClassVar[frozenset[str]] = frozenset()
    execution = "device"
    batch_note: str | None = None

    def __init__(self, model: str | None, options: dict[str, Any]) -> None:
        require_extras(self.role)
        check_options(self.role, options, SAMPLING_OPTIONS | self.extra_options)
        self.options = options
        self.resolved: ResolvedModel = resolve_model(self.role, model or self.default_model)
        if self.vision and "vision_config" not in read_json(self.role, self.resolved.path / "config.json"):
            raise ProviderError(
                f"local {self.role}: {self.resolved.name!r} is not a vision-language model (its config.json has no "
                "vision_config); the writer and the judge need one, e.g. Qwen/Qwen3-VL-8B-Instruct"
            )
        placement = Placement.parse(self.role, options, DEFAULT_BATCH)
        self.devices, self.max_batch, self.batch_wait_s = placement.devices, placement.max_batch, placement.batch_wait_s
        self.dtype = placement.dtype
        self.sampling = self._sampling(options, self.default_sampling)
        self.supported_types: frozenset[str] = frozenset(taxonomy.keys())
        self.ref = ModelRef(
            provider="local",
            model=self.model_label(),
            prompt_version=self.prompt_version(),
            temperature=self.sampling.temperature,
        )
        self._model: TextModel | None = None
        self._lock = threading.Lock()

    def model_label(self) -> str:
        return self.resolved.name

    def prompt_version(self) -> str:
        from editforge.models.prompting import PROMPT_VERSION

        return PROMPT_VERSION[self.role]

    def adapter_path(self) -> Any:
        return None

    def _sampling(self, options: dict[str, Any], default: Sampling) -> Sampling:
        try:
            sampling = Sampling(
                temperature=float(options.get("temperature", default.temperature)),
                top_p=float(options.get("top_p", default.top_p)),
                top_k=int(options.get("top_k", default.top_k)),
                max_new_tokens=int(options.get("max_new_tokens", default.max_new_tokens)),
            )
        except (TypeError, ValueError) as exc:
            raise ProviderError(f"local {self.role}: bad sampling option ({exc})") from None
        if sampling.temperature < 0 or not 0 < sampling.top_p <= 1 or sampling.max_new_tokens < 1:
            raise ProviderError(f"local {self.role}: need temperature ≥ 0, 0 < top_p ≤ 1, max_new_tokens ≥ 1")
        return sampling

    def __getstate__(self) -> dict[str, Any]:
        # Weights never travel between processes: a worker loads its own copy.
        state = dict(self.__dict__)
        state["_model"], state["_lock"] = None, None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def load(self, device: str) -> None:
        with self._lock:
            if self._model is None:
                device = resolve_device(device)
                self._model = TextModel(self.resolved.path, device, self.dtype, self.vision, self.adapter_path())

    @property
    def loaded(self) -> TextModel:
        if self._model is None:
            self.load(self.devices[0])  # a one-off call (editforge judge ...) without a device worker
        assert self._model is not None
        return self._model
