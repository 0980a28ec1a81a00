"""What the fake servers' "VLM" writer says a photo shows, for prompts that ask (writer.v2's Labels line).

A real VLM looks at the photo; the fakes look through the offline analysis, and say a little more than
the analysis alone gives the pipeline (sky, greenery), so a test can tell labels the writer named from
labels the pipeline detected itself.
"""

from __future__ import annotations

import numpy as np

LABELS_ASKED = "`Labels:`"  # how writer.v2 asks; a prompt without it gets the instruction alone


def labels_line(image: np.ndarray) -> str:
    from editforge.models.offline.core.analysis import analyze

    facts = analyze(image)
    seen = [
        label
        for label, shown in (
            ("people", facts.has_person or bool(facts.faces)),
            ("text_signage", facts.has_text),
            ("sky", facts.has_sky),
            ("nature", "green" in facts.dominant_colors[:2]),
        )
        if shown
    ]
    return "Labels: " + (", ".join(seen) or "none")
