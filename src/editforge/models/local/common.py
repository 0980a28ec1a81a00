"""What every local role shares: finding the weights, the extra's presence, devices, dtype, batching knobs.

Building a role is cheap (the runner builds every role to read its `ref` and `supported_types`): it
checks the extra is installed without importing it, finds the weights (a local folder, or a hub id already
in the Hugging Face cache; never a download) and reads only small JSON files. `load(device)` in a device
worker does the heavy part.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from editforge.models.base import DeviceOutOfMemoryError
from editforge.models.registry import ProviderError

INSTALL_HINT = "pip install 'editforge[local]'"
AUTO_DEVICE = "auto"  # resolved in the worker by load(): cuda:0 when torch sees a GPU, else cpu
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
# Options every local role accepts (each role adds its own): how the engine places and batches it.
COMMON_OPTIONS = frozenset({"devices", "batch_size", "batch_wait_s", "dtype"})


def require_extras(role: str, modules: tuple[str, ...] = ("torch", "transformers")) -> None:
    """ProviderError naming the extra when a module is missing; looks for it without importing it."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise ProviderError(f"local {role} needs {', '.join(missing)}: {INSTALL_HINT}")


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # what the user wrote (hub id or folder): goes into the ModelRef
    path: Path  # the folder holding the weights


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _looks_like_path(model: str) -> bool:
    return not _HUB_ID.match(model) or model.startswith((".", "/", "~"))


def resolve_model(role: str, model: str, marker: str = "config.json") -> ResolvedModel:
    """The folder holding `model`'s weights: the folder itself, or the hub id's snapshot in the HF cache.

    Honours HF_HOME / HF_HUB_CACHE and works under HF_HUB_OFFLINE=1; never downloads. `marker` is the
    file a usable folder must hold (config.json for transformers, model_index.json for diffusers).
    A missing model is one ProviderError line naming the id and how to get it.
    """
    folder = Path(model).expanduser()
    if folder.is_dir():
        return _checked(role, model, folder, marker)
    if _looks_like_path(model):
        raise ProviderError(
            f"local {role}: model folder {model!r} does not exist; pass a folder holding {marker}, "
            "or a Hugging Face id (org/name) already downloaded with `hf download org/name`"
        )
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:
        raise ProviderError(f"local {role} needs huggingface_hub to find {model!r}: {INSTALL_HINT}") from None
    from huggingface_hub import constants

    try:
        # local_files_only: a cache lookup (refs/main → snapshots/<commit>), never a network call.
        snapshot = snapshot_download(model, local_files_only=True)
    except LocalEntryNotFoundError as exc:
        incomplete = "incomplete" in str(exc)
        state = "is only partly downloaded" if incomplete else "is not in the Hugging Face cache"
        raise ProviderError(
            f"local {role}: model {model!r} {state} ({constants.HF_HUB_CACHE}); "
            f"get it with `hf download {model}` or pass a local folder"
        ) from None
    except Exception as exc:  # a malformed id or cache: still one clear line
        raise ProviderError(f"local {role}: cannot find model {model!r} ({type(exc).__name__}: {exc})") from None
    return _checked(role, model, Path(snapshot), marker)


def _checked(role: str, model: str, folder: Path, marker: str) -> ResolvedModel:
    if not (folder / marker).is_file():
        raise ProviderError(f"local {role}: {model!r} ({folder}) has no {marker}; is it a model folder?")
    return ResolvedModel(name=model, path=folder)


def read_json(role: str, path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ProviderError(f"local {role}: cannot read {path}: {exc}") from None
    if not isinstance(value, dict):
        raise ProviderError(f"local {role}: {path} is not a JSON object")
    return value


def has_weights(folder: Path) -> bool:
    return any(p.suffix in WEIGHT_SUFFIXES for p in folder.iterdir() if p.is_file())


@dataclass(frozen=True)
class Placement:
    """Where a role runs and how the engine batches it (the contract's devices / max_batch / batch_wait_s)."""

    devices: list[str]
    max_batch: int
    batch_wait_s: float
    dtype: str  # "auto" (bf16 on CUDA, float32 on CPU), "bfloat16", "float16", "float32"

    @classmethod
    def parse(cls, role: str, options: dict[str, Any], default_batch: int) -> Placement:
        devices = options.get("devices", [AUTO_DEVICE])
        if isinstance(devices, str):
            devices = [d.strip() for d in devices.split(",") if d.strip()]
        if not isinstance(devices, list) or not devices or not all(isinstance(d, str) for d in devices):
            raise ProviderError(f"local {role}: devices must be a list like ['cuda:0', 'cuda:1'], got {devices!r}")
        try:
            max_batch = int(options.get("batch_size", default_batch))
            batch_wait_s = float(options.get("batch_wait_s", 0.05))
        except (TypeError, ValueError) as exc:
            raise ProviderError(f"local {role}: bad batch option ({exc})") from None
        if max_batch < 1 or batch_wait_s < 0:
            raise ProviderError(f"local {role}: batch_size must be ≥ 1 and batch_wait_s ≥ 0")
        dtype = str(options.get("dtype", "auto"))
        if dtype not in ("auto", "bfloat16", "float16", "float32"):
            raise ProviderError(f"local {role}: dtype must be auto, bfloat16, float16 or float32, got {dtype!r}")
        return cls(devices=list(devices), max_batch=max_batch, batch_wait_s=batch_wait_s, dtype=dtype)


def resolve_device(device: str) -> str:
    """'auto' → cuda:0 when torch sees a GPU, else cpu (imports torch: call it in the worker only)."""
    import torch

    if device != AUTO_DEVICE:
        return device
    return "cuda:0" if torch.cuda.is_available() else "cpu"


def torch_dtype(name: str, device: str) -> Any:
    import torch

    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, name)


def check_options(role: str, options: dict[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(set(options) - known - COMMON_OPTIONS)
    if unknown:
        raise ProviderError(
            f"local {role}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known | COMMON_OPTIONS))}"
        )


@contextmanager
def out_of_memory_as_transient(label: str) -> Iterator[None]:
    """A CUDA out-of-memory error becomes DeviceOutOfMemoryError, which the engine answers by halving the batch."""
    import torch

    try:
        yield
    except torch.cuda.OutOfMemoryError as exc:  # the same class as torch.OutOfMemoryError (torch ≥ 2.5)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise DeviceOutOfMemoryError(f"{label}: out of device memory ({str(exc).splitlines()[0][:200]})") from None
