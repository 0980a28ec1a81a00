"""Test-only device providers: role objects shaped like the local provider's (devices, max_batch, load,
`*_many`) whose behaviour the test chooses — sleep, crash the process, hang, run out of memory above a
batch size, fail transiently — so the engine's device workers can be tested without a model.

The text and pixels come from the offline models, so a whole run through these workers makes real
examples. Registered as provider "testdevice"; the pool hands its provider table to the spawned workers.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from editforge.models.base import DeviceOutOfMemoryError, EditReply, ModelCallError, TextReply, TransientModelError
from editforge.records import ModelRef, Usage

PROVIDER = ("testdevice", "device_support")


class _Behaviour:
    def __init__(self, role: str, options: dict[str, Any]) -> None:
        self.role = role
        self.options = options
        self.devices = list(options.get("devices", ["auto"]))
        self.max_batch = int(options.get("batch_size", 4))
        self.batch_wait_s = float(options.get("batch_wait_s", 0.1))
        self.batch_note = options.get("batch_note")
        self.execution = "device"
        self.device: str | None = None
        self._weights: np.ndarray | None = None

    def load(self, device: str) -> None:
        if self.options.get("fail_load"):
            raise RuntimeError("weights file is truncated")
        self.device = device
        # stand-in weights: touched pages, so they count in this process's RSS (and only here)
        self._weights = np.ones(int(self.options.get("weights_mb", 1)) * 2**20, dtype=np.uint8)

    def _before_batch(self, size: int) -> None:
        state = Path(self.options.get("state_dir", "."))
        if self.options.get("crash_once") and _first(state / "crashed"):
            os._exit(3)  # a segfault or the OOM killer, as far as the pool can tell
        if self.options.get("hang_once") and _first(state / "hung"):
            time.sleep(3600)
        if "oom_above" in self.options and size > int(self.options["oom_above"]):
            raise DeviceOutOfMemoryError(f"CUDA out of memory at batch {size}")
        if _count_up(state / "transient", int(self.options.get("transient_times", 0))):
            raise TransientModelError("device busy (test)")
        time.sleep(float(self.options.get("sleep_s", 0.0)))

    def _raw(self, size: int) -> str:
        return f"batch={size} pid={os.getpid()} device={self.device}"


class DeviceRewriter(_Behaviour):
    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__("rewriter", options)
        from editforge.models.offline.writer.rewriter import RuleRewriter

        self.inner = RuleRewriter()
        self.ref = ModelRef(provider="testdevice", model="device-rewriter", prompt_version="t1")

    def rewrite_many(self, long_instructions: list[str], edit_types: list[Any], seeds: list[int]) -> list[Any]:
        self._before_batch(len(seeds))
        replies: list[Any] = []
        for text, edit_type, seed in zip(long_instructions, edit_types, seeds, strict=True):
            if "REFUSE" in text:
                replies.append(ModelCallError("refused (test)", raw="no", usage=Usage(input_tokens=3)))
                continue
            reply = self.inner.rewrite(text, edit_type, seed)
            replies.append(TextReply(reply.text, raw=self._raw(len(seeds)), usage=Usage(input_tokens=len(text))))
        return replies

    def rewrite(self, long_instruction: str, edit_type: Any, seed: int) -> TextReply:
        reply = self.rewrite_many([long_instruction], [edit_type], [seed])[0]
        if isinstance(reply, ModelCallError):
            raise reply
        return reply


class DeviceEditor(_Behaviour):
    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__("editor", options)
        from editforge.models.offline.editor.editor import ClassicalEditor

        self.inner = ClassicalEditor()
        self.supported_types = self.inner.supported_types
        self.ref = ModelRef(provider="testdevice", model="device-editor")

    def edit_many(self, images: list[np.ndarray], instructions: list[str], seeds: list[int]) -> list[Any]:
        self._before_batch(len(seeds))
        out: list[Any] = []
        for image, instruction, seed in zip(images, instructions, seeds, strict=True):
            try:
                reply = self.inner.edit(image, instruction, seed)
            except ModelCallError as exc:
                out.append(exc)
                continue
            out.append(EditReply(reply.image, raw=self._raw(len(seeds)), usage=Usage(images=1)))
        return out


def build(role: str, model: str | None, options: dict[str, Any]) -> Any:
    if role == "rewriter":
        return DeviceRewriter(options)
    if role == "editor":
        return DeviceEditor(options)
    raise ValueError(f"testdevice has no {role}")


def _first(marker: Path) -> bool:
    """True exactly once per marker file, across processes."""
    try:
        marker.touch(exist_ok=False)
    except FileExistsError:
        return False
    return True


def _count_up(counter: Path, limit: int) -> bool:
    """True for the first `limit` calls across processes (a file holds the count)."""
    if limit <= 0:
        return False
    n = int(counter.read_text()) if counter.exists() else 0
    if n >= limit:
        return False
    counter.write_text(str(n + 1))
    return True
