"""Build a local role: editor → diffusers (models/local/editor.py); writer, judge, rewriter → transformers.

Building never loads weights (see common.py); `load(device)` does, once, in the engine's device worker.
The editor module is imported only when the editor is asked for, so the text roles work without diffusers.
"""

from __future__ import annotations

import importlib
from typing import Any

from editforge.models.base import Role
from editforge.models.local.judge import DEFAULT_MODEL as judge_default
from editforge.models.local.pipelines import DEFAULT_MODEL as editor_default
from editforge.models.local.rewriter import DEFAULT_MODEL as rewriter_default
from editforge.models.local.writer import DEFAULT_MODEL as writer_default
from editforge.models.registry import ProviderError

# Each role's default model (what `editforge estimate` and the docs name); importing these is light.
DEFAULT_MODELS: dict[str, str] = {
    "writer": writer_default,
    "judge": judge_default,
    "rewriter": rewriter_default,
    "editor": editor_default,
}

ROLE_MODULES: dict[str, str] = {
    "writer": "editforge.models.local.writer",
    "judge": "editforge.models.local.judge",
    "rewriter": "editforge.models.local.rewriter",
    "editor": "editforge.models.local.editor",
}


def build(role: Role, model: str | None, options: dict[str, Any]) -> Any:
    if role not in ROLE_MODULES:
        raise ProviderError(f"local provider has no role {role!r}; roles: {', '.join(ROLE_MODULES)}")
    try:
        module = importlib.import_module(ROLE_MODULES[role])
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("editforge."):
            raise ProviderError(f"local {role} is not available in this version of editforge ({exc.name})") from None
        raise
    # Each role module exposes build(model, options) returning a cheap, unloaded role object.
    return module.build(model, dict(options))
