"""The local editor: a diffusers image-editing pipeline (Qwen-Image-Edit, FLUX.2 klein, Kontext, ...) run
in-process on this machine's GPU (or its CPU, for the tiny test pipelines).

Building is cheap (the runner builds every role): it finds the model folder and reads `model_index.json`
to learn the pipeline class. `load(device)` loads the weights once; `edit_many` edits a batch gathered by
the engine, with one `torch.Generator(device).manual_seed(seed)` per photo so an edit does not depend on
the batch it landed in. Every reply records, as JSON in `raw`, the pipeline, the arguments it was called
with and the input and output sizes (they differ per pipeline: export's `align` puts them back on the
source's geometry).

Options (all optional): steps, guidance, true_cfg_scale, negative_prompt, image_guidance_scale (where the
pipeline takes them); max_area, height, width, condition_area, auto_resize (resolution, see pipelines.py);
lora (a .safetensors file, a folder or a hub id in the HF cache), lora_weight_name, lora_scale; and the
common devices, batch_size, batch_wait_s, dtype.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from editforge import taxonomy
from editforge.models.base import DeviceOutOfMemoryError, EditReply, ModelCallError
from editforge.models.local import common
from editforge.models.local.pipelines import (
    CALL_OPTIONS,
    DEFAULT_MODEL,
    SIZE_ARGS,
    SIZE_OPTIONS,
    PipelineSpec,
    fit_area,
    spec_for,
)
from editforge.models.registry import ProviderError
from editforge.records import ModelRef, Usage

ROLE = "editor"
LORA_OPTIONS = frozenset({"lora", "lora_weight_name", "lora_scale"})
KNOWN_OPTIONS = frozenset(CALL_OPTIONS) | frozenset(SIZE_OPTIONS) | SIZE_ARGS | LORA_OPTIONS
ADAPTER = "editforge"
# The Qwen-Image-Edit-Plus pipeline reads its resize targets from module constants: a call that changes them
# holds this lock, so two editors in one process never see each other's sizes.
_MODULE_CONSTANTS = threading.Lock()


@dataclass(frozen=True)
class LoraSource:
    name: str  # as written in the options (goes into the ModelRef)
    folder: Path
    weight_name: str | None


def build(model: str | None, options: dict[str, Any]) -> LocalEditor:
    return LocalEditor(model or DEFAULT_MODEL, options)


build_editor = build  # the name LOCAL_CONTRACT.md used


class LocalEditor:
    execution = "device"

    def __init__(self, model: str, options: dict[str, Any]) -> None:
        common.require_extras(ROLE, ("torch", "diffusers", "transformers"))
        common.check_options(ROLE, options, KNOWN_OPTIONS)
        self.resolved = common.resolve_model(ROLE, model, marker="model_index.json")
        index = common.read_json(ROLE, self.resolved.path / "model_index.json")
        class_name = index.get("_class_name")
        if not isinstance(class_name, str):
            raise ProviderError(f"local editor: {model!r} has no pipeline _class_name in model_index.json")
        self.spec: PipelineSpec = spec_for(class_name, index)
        self.options = dict(options)
        self._check_options()
        self.lora = _resolve_lora(options) if options.get("lora") else None
        placement = common.Placement.parse(ROLE, options, default_batch=4 if self.spec.batches else 1)
        self.devices, self.batch_wait_s, self.dtype = placement.devices, placement.batch_wait_s, placement.dtype
        self.max_batch = placement.max_batch if self.spec.batches else 1
        self.batch_note = None if self.spec.batches else self.spec.batch_note
        label = self.resolved.name + (f"+lora:{self.lora.name}" if self.lora else "")
        self.ref = ModelRef(provider="local", model=label)
        self.supported_types: frozenset[str] = frozenset(taxonomy.keys())
        self._pipe: Any = None
        self._device = ""
        self.load_seconds = 0.0
        # A diffusers pipeline keeps per-call state (its scheduler's timesteps): one call at a time.
        self._lock = threading.RLock()

    def __getstate__(self) -> dict[str, Any]:
        # Weights never travel between processes: a worker loads its own copy.
        state = dict(self.__dict__)
        state["_pipe"], state["_device"], state["_lock"] = None, "", None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def _check_options(self) -> None:
        spec, options = self.spec, self.options
        for option, argument in CALL_OPTIONS.items():
            if option in options and argument not in spec.call_args:
                raise ProviderError(f"local editor: {spec.class_name} takes no {option} ({argument})")
        for option, modes in SIZE_OPTIONS.items():
            if option in options and spec.resolution not in modes:
                raise ProviderError(f"local editor: {spec.class_name} takes no {option} (its output size is fixed)")
        if SIZE_ARGS & set(options) and not spec.call_args >= SIZE_ARGS:
            raise ProviderError(f"local editor: {spec.class_name} takes no height/width (its output size is its own)")
        if ("height" in options) != ("width" in options):
            raise ProviderError("local editor: give height and width together")
        if ("lora_weight_name" in options or "lora_scale" in options) and not options.get("lora"):
            raise ProviderError("local editor: lora_weight_name and lora_scale need a lora")
        scale = options.get("lora_scale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)):
            raise ProviderError(f"local editor: lora_scale must be a number, got {scale!r}")
        for option in ("steps", "max_area", "height", "width", "condition_area"):
            value = options.get(option)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ProviderError(f"local editor: {option} must be a positive whole number, got {value!r}")

    # -- loading ----------------------------------------------------------------------------------------------
    def load(self, device: str | None = None) -> None:
        """Load the pipeline onto `device` (default: the first of `devices`) once; later calls do nothing."""
        with self._lock:
            if self._pipe is None:
                self._load(device)

    def _load(self, device: str | None) -> None:
        import torch
        from diffusers import DiffusionPipeline
        from diffusers.utils import logging as diffusers_logging
        from transformers.utils import logging as transformers_logging

        # Loading bars and per-call warnings (CLIP's 77-token truncation, size adjustments) would flood the
        # run's console from every device worker; what matters is in each reply's raw record.
        diffusers_logging.set_verbosity_error()
        diffusers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()

        device = common.resolve_device(device or self.devices[0])
        dtype = common.torch_dtype(self.dtype, device)
        folder = self.resolved.path
        started = time.perf_counter()
        try:
            pipe = DiffusionPipeline.from_pretrained(
                folder, dtype=dtype, local_files_only=True, **_preloaded_processors(folder)
            )
        except (OSError, ValueError, ImportError) as exc:
            raise ProviderError(f"local editor: cannot load {self.resolved.name!r}: {_one_line(exc)}") from None
        if "image" not in _call_parameters(pipe):
            raise ProviderError(f"local editor: {type(pipe).__name__} is not an image-editing pipeline (no image)")
        pipe.set_progress_bar_config(disable=True)
        with common.out_of_memory_as_transient(f"loading {self.resolved.name}"):
            pipe.to(device)
        if self.lora is not None:
            self._load_lora(pipe)
        for component in pipe.components.values():
            if isinstance(component, torch.nn.Module):
                component.eval()  # from_pretrained does this; a LoRA load must not leave dropout on
        self._pipe, self._device = pipe, device
        self.load_seconds = time.perf_counter() - started

    def _load_lora(self, pipe: Any) -> None:
        assert self.lora is not None
        if not hasattr(pipe, "load_lora_weights"):
            raise ProviderError(f"local editor: {type(pipe).__name__} cannot load LoRA weights")
        try:
            pipe.load_lora_weights(
                str(self.lora.folder), weight_name=self.lora.weight_name, adapter_name=ADAPTER, local_files_only=True
            )
            pipe.set_adapters([ADAPTER], adapter_weights=[float(self.options.get("lora_scale", 1.0))])
        except (OSError, ValueError, KeyError, ImportError) as exc:
            raise ProviderError(f"local editor: cannot load LoRA {self.lora.name!r}: {_one_line(exc)}") from None

    # -- editing ----------------------------------------------------------------------------------------------
    def edit(self, image: np.ndarray, instruction: str, seed: int) -> EditReply:
        (reply,) = self.edit_many([image], [instruction], [seed])
        if isinstance(reply, ModelCallError):
            raise reply
        return reply

    def edit_many(
        self, images: list[np.ndarray], instructions: list[str], seeds: list[int]
    ) -> list[EditReply | ModelCallError]:
        if not (len(images) == len(instructions) == len(seeds)):
            raise ValueError("edit_many: images, instructions and seeds differ in length")
        with self._lock:
            self.load()
            return self._edit_many(images, instructions, seeds)

    def _edit_many(
        self, images: list[np.ndarray], instructions: list[str], seeds: list[int]
    ) -> list[EditReply | ModelCallError]:
        results: list[EditReply | ModelCallError | None] = [None] * len(images)
        inputs = [self._input(image) for image in images]
        # Photos of one size go in one call (a batched pipeline resizes a batch to its first photo's size).
        groups: dict[tuple[int, int], list[int]] = {}
        for i, pil in enumerate(inputs):
            groups.setdefault(pil.size if self.spec.batches else (i, -1), []).append(i)
        for indices in groups.values():
            for start in range(0, len(indices), self.max_batch):
                chunk = indices[start : start + self.max_batch]
                picked = [inputs[i] for i in chunk], [instructions[i] for i in chunk], [seeds[i] for i in chunk]
                replies = self._run(*picked)
                for i, reply in zip(chunk, replies, strict=True):
                    results[i] = reply
        return [r for r in results if r is not None]

    def _run(self, images: list[Any], prompts: list[str], seeds: list[int]) -> list[EditReply | ModelCallError]:
        """One pipeline call; a failure that is not out-of-memory is retried photo by photo, then recorded."""
        try:
            return self._call(images, prompts, seeds)
        except DeviceOutOfMemoryError:
            raise  # the engine halves the batch
        except ModelCallError as exc:
            if len(images) == 1:
                return [exc]
        except Exception as exc:  # noqa: BLE001 - a pipeline error on one photo is that photo's failure
            if len(images) == 1:
                return [ModelCallError(f"{self.spec.class_name} failed: {_one_line(exc)}")]
        return [
            self._run([image], [prompt], [seed])[0] for image, prompt, seed in zip(images, prompts, seeds, strict=True)
        ]

    def _call(self, images: list[Any], prompts: list[str], seeds: list[int]) -> list[EditReply | ModelCallError]:
        import torch

        arguments = self._arguments(images[0])
        generators = [torch.Generator(self._device).manual_seed(seed) for seed in seeds]
        batch = len(images) > 1
        started = time.perf_counter()
        with common.out_of_memory_as_transient(f"{self.resolved.name} batch of {len(images)}"), self._constants():
            output = self._pipe(
                image=images if batch else images[0],
                prompt=prompts if batch else prompts[0],
                generator=generators if batch else generators[0],
                output_type="np",
                **arguments,
            )
        seconds = (time.perf_counter() - started) / len(images)
        pictures = list(getattr(output, "images", None) if getattr(output, "images", None) is not None else [])
        if len(pictures) != len(images):
            raise ModelCallError(f"{self.spec.class_name} returned {len(pictures)} images for {len(images)} photos")
        flagged = getattr(output, "nsfw_content_detected", None) or [False] * len(images)
        shown = {k: v for k, v in arguments.items() if k not in ("image", "prompt", "generator")}
        replies: list[EditReply | ModelCallError] = []
        for picture, source, seed, nsfw in zip(pictures, images, seeds, flagged, strict=True):
            usage = Usage(images=1, device_seconds=seconds)
            edited = _to_uint8(picture)
            raw = json.dumps(
                {
                    "pipeline": self.spec.class_name,
                    "seed": seed,
                    "input_size": list(source.info["source_size"]),
                    "pipeline_input_size": list(source.size),
                    "output_size": [edited.shape[1], edited.shape[0]],
                    "arguments": shown,
                    "lora": self.lora.name if self.lora else None,
                    "device": self._device,
                },
                default=str,
            )
            if nsfw:
                replies.append(_failure("the pipeline's safety checker flagged it NSFW (blacked out)", raw, usage))
            elif edited.size == 0 or int(edited.max()) == 0:
                replies.append(_failure("the pipeline returned an all-black image", raw, usage))
            else:
                replies.append(EditReply(image=edited, raw=raw, usage=usage))
        return replies

    def _input(self, image: np.ndarray) -> Any:
        from PIL import Image

        pil = Image.fromarray(np.ascontiguousarray(image)).convert("RGB")
        source_size = pil.size
        area = self.options.get("max_area")
        if self.spec.resolution == "input" and area and pil.width * pil.height > area:
            pil = pil.resize(fit_area(pil.width, pil.height, area, 1), Image.Resampling.LANCZOS)
        pil.info["source_size"] = source_size  # what the reply records, whatever was handed to the pipeline
        return pil

    def _arguments(self, image: Any) -> dict[str, Any]:
        """The call's keyword arguments besides image, prompt and generator."""
        options, spec = self.options, self.spec
        arguments = {k: v for k, v in spec.defaults.items()}
        for option, argument in CALL_OPTIONS.items():
            if option in options:
                arguments[argument] = options[option]
        width, height = image.size
        if "height" in options:
            arguments["height"], arguments["width"] = options["height"], options["width"]
        elif spec.resolution in ("qwen-plus", "qwen") and "max_area" in options:
            module = sys.modules[type(self._pipe).__module__]
            size = module.calculate_dimensions(options["max_area"], width / height)
            arguments["width"], arguments["height"] = size[0], size[1]
        elif spec.resolution == "kontext":
            arguments["width"], arguments["height"] = width, height  # Kontext takes only the aspect from these
        if spec.resolution == "kontext":
            fixed = options["height"] * options["width"] if "height" in options else 1024**2
            arguments["max_area"] = options.get("max_area", fixed)
            arguments["_auto_resize"] = bool(options.get("auto_resize", True))
        return arguments

    def _constants(self) -> Any:
        if self.spec.resolution != "qwen-plus" or not ({"max_area", "condition_area"} & set(self.options)):
            return nullcontext()
        module = sys.modules[type(self._pipe).__module__]
        values = {
            "VAE_IMAGE_SIZE": self.options.get("max_area"),
            "CONDITION_IMAGE_SIZE": self.options.get("condition_area"),
        }
        return _patched(module, {k: v for k, v in values.items() if v is not None})


@contextmanager
def _patched(module: Any, values: dict[str, int]) -> Any:
    with _MODULE_CONSTANTS:
        saved = {name: getattr(module, name) for name in values}
        for name, value in values.items():
            setattr(module, name, value)
        try:
            yield
        finally:
            for name, value in saved.items():
                setattr(module, name, value)


def _resolve_lora(options: dict[str, Any]) -> LoraSource:
    """The LoRA's folder and file, found now (before any work), never downloaded."""
    common.require_extras(ROLE, ("peft",))
    name = str(options["lora"])
    weight_name = options.get("lora_weight_name")
    path = Path(name).expanduser()
    if path.is_file():
        return LoraSource(name, path.parent, path.name)
    if path.is_dir():
        return LoraSource(name, path, weight_name)
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(name, local_files_only=True))
    except Exception:  # noqa: BLE001 - not a folder, not a file, not cached: one clear line
        raise ProviderError(
            f"local editor: LoRA {name!r} is neither a file, a folder nor a Hugging Face id in the cache; "
            f"get it with `hf download {name}` or pass a local .safetensors file"
        ) from None
    return LoraSource(name, folder, weight_name)


def _preloaded_processors(folder: Path) -> dict[str, Any]:
    """Processors that need torchvision's video half are loaded image-only and handed to from_pretrained."""
    index = json.loads((folder / "model_index.json").read_text("utf-8"))
    loaded: dict[str, Any] = {}
    for name, entry in index.items():
        # Multimodal processors only (Qwen2VLProcessor); an image processor (CLIPImageProcessor) loads as is.
        multimodal = isinstance(entry, list) and len(entry) == 2 and str(entry[1]).endswith("Processor")
        if multimodal and entry[0] == "transformers" and not str(entry[1]).endswith("ImageProcessor"):
            from editforge.models.local.processors import load_processor

            loaded[name] = load_processor(folder / name)
    return loaded


def _call_parameters(pipe: Any) -> set[str]:
    import inspect

    return set(inspect.signature(pipe.__call__).parameters)


def _to_uint8(picture: Any) -> np.ndarray:
    array = np.asarray(picture)
    if array.dtype != np.uint8:
        array = (np.clip(np.nan_to_num(array.astype(np.float32)), 0.0, 1.0) * 255.0).round().astype(np.uint8)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return np.ascontiguousarray(array[..., :3])


def _failure(reason: str, raw: str, usage: Usage) -> ModelCallError:
    error = ModelCallError(reason, raw)
    error.usage = usage  # type: ignore[attr-defined]
    return error


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"
