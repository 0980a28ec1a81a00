"""Load a model folder's processor the way transformers does, and still load it where torchvision is absent.

Qwen-VL (and InternVL) processors carry a video processor that needs torchvision. editforge never sends
video, so when AutoProcessor fails for that reason the same processor class is rebuilt without its video
part from the folder's own image processor, tokenizer and chat template. Both paths read only the folder.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json")


@cache
def without_video(processor_class: type) -> type:
    """`processor_class` minus its video processor, under the same name (so save_pretrained records the real
    class and the saved folder loads through AutoProcessor wherever torchvision is installed)."""

    def __init__(self: Any, image_processor: Any = None, tokenizer: Any = None, chat_template: Any = None, **kw: Any):
        # ProcessorMixin takes its sub-processors from this signature: with no video_processor parameter the
        # parent's positional video_processor=None is dropped instead of type-checked.
        processor_class.__init__(self, image_processor, tokenizer, None, chat_template=chat_template, **kw)

    import inspect

    # The parent's own settings (InternVL's image_seq_length, ...) stay in the signature, which is what
    # ProcessorMixin reads to know what to save; only video_processor goes.
    parent = inspect.signature(processor_class.__init__)
    __init__.__signature__ = parent.replace(  # type: ignore[attr-defined]
        parameters=[p for name, p in parent.parameters.items() if name != "video_processor"]
    )
    return type(processor_class.__name__, (processor_class,), {"__init__": __init__, "__module__": __name__})


def load_processor(folder: Path) -> Any:
    from transformers import AutoProcessor

    try:
        return AutoProcessor.from_pretrained(folder, local_files_only=True)
    except (OSError, ImportError, ValueError, AttributeError):
        if importlib.util.find_spec("torchvision") is not None:
            raise  # not the missing-video-processor case: let the real error through
    return _load_without_video(folder)


def _processor_config(folder: Path) -> dict[str, Any]:
    """The first of the folder's processor files that names its processor class."""
    import json

    for name in PROCESSOR_FILES:
        path = folder / name
        if path.is_file():
            value = json.loads(path.read_text("utf-8"))
            if isinstance(value, dict) and isinstance(value.get("processor_class"), str):
                return value
    return {}


def _own_settings(processor_class: type, config: dict[str, Any]) -> dict[str, Any]:
    """The processor's own __init__ settings saved in its config (e.g. InternVL's image_seq_length)."""
    import inspect

    accepted = set(inspect.signature(processor_class.__init__).parameters)
    skip = {"self", "image_processor", "tokenizer", "video_processor", "chat_template", "kwargs"}
    return {key: value for key, value in config.items() if key in accepted - skip}


def _load_without_video(folder: Path) -> Any:
    import transformers
    from transformers import AutoImageProcessor, AutoTokenizer

    config = _processor_config(folder)
    name = config.get("processor_class")
    processor_class = getattr(transformers, name, None) if name else None
    if processor_class is None:
        raise OSError(f"{folder}: cannot tell which processor to build (processor_class {name!r})")
    image_processor = AutoImageProcessor.from_pretrained(folder, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    template = folder / "chat_template.jinja"
    chat_template = template.read_text("utf-8") if template.is_file() else getattr(tokenizer, "chat_template", None)
    processor = without_video(processor_class)
    settings = _own_settings(processor_class, config)
    return processor(image_processor=image_processor, tokenizer=tokenizer, chat_template=chat_template, **settings)
