"""Tiny random-weight models, built in code in seconds on a CPU, saved as ordinary model folders.

    python -m editforge.testing.tiny_models DIR [--only vlm,lm]

writes one folder per model kind under DIR (DIR/vlm, DIR/lm, ...) with `save_pretrained`, loadable by
exactly the path a downloaded model takes (`roles: judge: {provider: local, model: DIR/vlm}`). The
outputs are garbage (random weights): they smoke-test a local config and the plumbing, not quality.
Nothing is downloaded: tokenizers and processors are built in code.

Kinds are a registry: each builder module decorates its functions with `@builder("kind")` and is listed in
BUILDER_MODULES, so the transformers and diffusers builders live in separate files.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BUILDER_MODULES: tuple[str, ...] = ("editforge.testing.tiny_vlm", "editforge.testing.tiny_editors")


@dataclass(frozen=True)
class Builder:
    kind: str
    help: str
    build: Callable[[Path], None]  # writes a complete model folder at the given path


BUILDERS: dict[str, Builder] = {}


def builder(kind: str, help: str) -> Callable[[Callable[[Path], None]], Callable[[Path], None]]:
    def register(function: Callable[[Path], None]) -> Callable[[Path], None]:
        if kind in BUILDERS and BUILDERS[kind].build is not function:
            raise ValueError(f"tiny model kind {kind!r} registered twice")
        BUILDERS[kind] = Builder(kind, help, function)
        return function

    return register


def registry() -> dict[str, Builder]:
    for module in BUILDER_MODULES:
        importlib.import_module(module)
    return BUILDERS


def build(out_dir: Path, kinds: list[str] | None = None) -> dict[str, Path]:
    """Build `kinds` (default: all) under out_dir; returns kind → model folder. Same weights every time."""
    import torch

    known = registry()
    chosen = kinds or list(known)
    unknown = [kind for kind in chosen if kind not in known]
    if unknown:
        raise ValueError(f"unknown tiny model kind(s) {', '.join(unknown)}; known: {', '.join(known)}")
    folders: dict[str, Path] = {}
    for kind in chosen:
        torch.manual_seed(0)  # the same random weights on every build, so tests and smoke runs repeat
        folder = out_dir / kind
        folder.mkdir(parents=True, exist_ok=True)
        known[kind].build(folder)
        folders[kind] = folder
    return folders


def main(argv: list[str] | None = None) -> int:
    kinds = registry()
    parser = argparse.ArgumentParser(
        prog="python -m editforge.testing.tiny_models",
        description="Write tiny random-weight models (one folder per kind) for smoke tests; downloads nothing.",
        epilog="kinds: " + "; ".join(f"{b.kind}: {b.help}" for b in kinds.values()),
    )
    parser.add_argument("out_dir", type=Path, help="folder to write the model folders into")
    parser.add_argument("--only", default="", help=f"comma-separated kinds (default: all of {', '.join(kinds)})")
    args = parser.parse_args(argv)
    only = [kind.strip() for kind in args.only.split(",") if kind.strip()]
    try:
        folders = build(args.out_dir, only or None)
    except ValueError as exc:
        parser.error(str(exc))
    for kind, folder in folders.items():
        print(f"{kind}\t{folder}")
    return 0


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy's: builder modules register into the former.
    from editforge.testing.tiny_models import main as registered_main

    sys.exit(registered_main())
