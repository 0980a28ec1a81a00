"""The offline writer and rewriter: instructions from templates and a photo's analysis."""
