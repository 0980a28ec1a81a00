"""Provider name → the module that builds its roles. Adding a provider is one line here."""

from __future__ import annotations

import importlib
from typing import Any

from editforge.models.base import Role

PROVIDERS: dict[str, str] = {
    "offline": "editforge.models.offline.provider",
    "gemini": "editforge.models.gemini",
    "openai": "editforge.models.openai_compat",
    "local": "editforge.models.local.provider",
}


class ProviderError(ValueError):
    """A provider or role that cannot be built (unknown name, missing extra, missing key)."""


def build_role(role: Role, provider: str, model: str | None = None, options: dict[str, Any] | None = None) -> Any:
    if provider not in PROVIDERS:
        raise ProviderError(f"unknown provider {provider!r} for {role}; known: {', '.join(sorted(PROVIDERS))}")
    module = importlib.import_module(PROVIDERS[provider])
    return module.build(role, model, dict(options or {}))
