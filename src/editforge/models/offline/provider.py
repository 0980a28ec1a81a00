"""The offline provider: all four roles with no key, no GPU and no torch.

template writer → rule rewriter → classical editor → metric judge. Each declares the edit types it
can do; the planner only picks types that the editor, writer and judge all claim, and leaves the
session-only ones (writer.SESSION_ONLY_TYPES: recolouring words an earlier turn added) out of single
turns; writer.session_types says which types make sense as a session's next turn.
"""

from __future__ import annotations

from typing import Any

from editforge.models.base import Role

MODELS = {
    "writer": "template-writer",
    "rewriter": "rule-rewriter",
    "editor": "classical-editor",
    "judge": "metric-judge",
}


def build(role: Role, model: str | None, options: dict[str, Any]) -> Any:
    from editforge.models.registry import ProviderError

    if model not in (None, MODELS[role]):
        raise ProviderError(f"offline {role} has one model, {MODELS[role]!r}; got {model!r}")
    if role == "writer":
        from editforge.models.offline.writer.writer import TemplateWriter

        return TemplateWriter(**options)
    if role == "rewriter":
        from editforge.models.offline.writer.rewriter import RuleRewriter

        return RuleRewriter(**options)
    if role == "editor":
        from editforge.models.offline.editor.editor import ClassicalEditor

        return ClassicalEditor(**options)
    from editforge.models.offline.judge.judge import MetricJudge

    return MetricJudge(**options)
