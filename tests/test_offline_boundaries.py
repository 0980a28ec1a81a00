"""The offline packages' import boundaries: the judge shares nothing with the writer or the editor but the core.

A judge that imports the editor's palettes, text finder or instruction reading confirms the editor's own
misreadings; these tests read every module's imports (static, so a lazy import inside a function counts too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import editforge.models.offline as offline

ROOT = Path(offline.__file__).parent
PREFIX = "editforge.models.offline"
# package -> the sibling packages it must never import
FORBIDDEN = {
    "judge": ("writer", "editor", "core.intent"),  # the judge reads instructions its own way
    "writer": ("editor", "judge"),
    "editor": ("writer", "judge"),
    "core": ("writer", "editor", "judge"),
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_no_forbidden_sibling(package: str) -> None:
    modules = sorted((ROOT / package).glob("*.py"))
    assert modules, f"no modules found in {package}/"
    bad = {
        f"{path.name}: {name}"
        for path in modules
        for name in imported_modules(path)
        for sibling in FORBIDDEN[package]
        if name == f"{PREFIX}.{sibling}" or name.startswith(f"{PREFIX}.{sibling}.")
    }
    assert not bad, f"{package}/ imports what it must not: {sorted(bad)}"


def test_the_check_sees_an_import_it_forbids(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from editforge.models.offline.editor import editor\n", encoding="utf-8")
    assert "editforge.models.offline.editor.editor" in imported_modules(module)


def test_no_module_left_at_the_top_level() -> None:
    # everything lives in core/, writer/, editor/ or judge/, except the registry's entry point
    assert sorted(p.name for p in ROOT.glob("*.py")) == ["__init__.py", "provider.py"]
