"""The dependency direction the design promises, checked on the source: cli → engine → stages → models.

A newcomer reads the package layout as the data flow; an import against the flow (the engine writing
export files, a stage calling a provider, a provider driving the engine) breaks that reading."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import editforge

PACKAGE = Path(editforge.__file__).parent

# package → packages it must never import (directly)
FORBIDDEN = {
    "engine": ("editforge.export", "editforge.report", "editforge.cli"),
    "stages": ("editforge.engine", "editforge.export", "editforge.cli", "editforge.models.offline",
               "editforge.models.gemini", "editforge.models.openai_compat", "editforge.models.local"),
    "models": ("editforge.engine", "editforge.stages", "editforge.export", "editforge.cli", "editforge.report"),
    "export": ("editforge.engine", "editforge.cli"),
    "store": ("editforge.engine", "editforge.export", "editforge.cli"),
}  # fmt: skip


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_follow_the_data_flow(package: str) -> None:
    wrong = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in sorted((PACKAGE / package).rglob("*.py"))
        for name in _imports(path)
        if name.startswith(FORBIDDEN[package])
    ]
    assert not wrong, wrong


def test_the_offline_path_imports_no_heavy_extra() -> None:
    """torch, transformers, diffusers and ray are extras: the CLI and an offline run never load them."""
    code = (
        "import sys, editforge.cli, editforge.pipeline, editforge.models.offline.provider as p\n"
        "for role in ('writer', 'rewriter', 'editor', 'judge'): p.build(role, None, {})\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'diffusers', 'ray') if m in sys.modules)\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
