"""The `local` provider: open-weight models run in-process through transformers (writer, judge,
rewriter) and diffusers (editor), on the machine's own GPUs or, for tiny test models, its CPU.

Nothing here is imported by the core or the offline path: torch, transformers and diffusers come with
the `editforge[local]` extra and are imported only when a role loads its weights.
"""
