"""What differs between the diffusers editing pipelines: which of the editor's options each `__call__` takes,
whether it can batch different photos, and how it decides the output size.

The pipeline class itself comes from the model folder's `model_index.json` (`_class_name`) and is loaded by
`DiffusionPipeline.from_pretrained`; step counts and guidance default to the pipeline's own `__call__`
defaults. This table only records what those defaults and signatures do not say (checked against diffusers
0.42.1). A class not listed here still loads if its `__call__` takes an `image`: it runs one photo at a
time with the plain options (steps, guidance, negative_prompt where its signature has them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# How the output size is decided, and so what `max_area` / `height` / `width` mean for a pipeline:
#   qwen-plus  output ~1 MP at the input's aspect ratio; the VAE sees the input at ~1 MP and the text encoder at
#              ~384² (module constants VAE_IMAGE_SIZE / CONDITION_IMAGE_SIZE, set per call by max_area /
#              condition_area)
#   qwen       output ~1 MP at the input's aspect ratio (height/width, from max_area); the VAE input stays ~1 MP
#   kontext    output max_area at the aspect ratio of (height, width), which the editor sets to the input's;
#              the input snaps to Kontext's trained ~1 MP buckets unless auto_resize is false
#   input      keeps the input's size (Klein: shrunk to 1 MP, cropped to a multiple of 16; InstructPix2Pix:
#              rounded to a multiple of 8); max_area shrinks the input first
#   fixed      always ~1 MP, no size arguments
Resolution = Literal["qwen-plus", "qwen", "kontext", "input", "fixed"]

# The editor's options that become `__call__` arguments, by the argument's name.
CALL_OPTIONS: dict[str, str] = {
    "steps": "num_inference_steps",
    "guidance": "guidance_scale",
    "true_cfg_scale": "true_cfg_scale",
    "negative_prompt": "negative_prompt",
    "image_guidance_scale": "image_guidance_scale",
}
# The editor's resolution options, and the modes that take each (height and width: the pipelines whose
# __call__ takes them, listed in their call_args).
SIZE_OPTIONS: dict[str, frozenset[str]] = {
    "max_area": frozenset({"qwen-plus", "qwen", "kontext", "input"}),
    "condition_area": frozenset({"qwen-plus"}),
    "auto_resize": frozenset({"kontext"}),
}
SIZE_ARGS = frozenset({"height", "width"})


@dataclass(frozen=True)
class PipelineSpec:
    class_name: str
    example_model: str
    call_args: frozenset[str]  # which CALL_OPTIONS arguments its __call__ takes
    resolution: Resolution
    # Can one call edit several different photos? (a list of images is a batch, not references for one edit)
    batches: bool
    batch_note: str | None = None
    # Call arguments where the pipeline's own default is wrong for editing (see each entry).
    defaults: dict[str, Any] = field(default_factory=dict)


_QWEN_ARGS = frozenset({"num_inference_steps", "guidance_scale", "true_cfg_scale", "negative_prompt"}) | SIZE_ARGS

SPECS: dict[str, PipelineSpec] = {
    spec.class_name: spec
    for spec in (
        PipelineSpec(
            "QwenImageEditPlusPipeline",
            "Qwen/Qwen-Image-Edit-2511",
            _QWEN_ARGS,
            "qwen-plus",
            batches=False,
            batch_note="QwenImageEditPlusPipeline raises on batch size > 1 (diffusers 0.42): one photo per call",
            # true_cfg_scale (default 4.0) only acts with a negative prompt: without one CFG is silently off.
            # The model card's negative prompt is a single space.
            defaults={"negative_prompt": " "},
        ),
        PipelineSpec(
            "QwenImageEditPipeline",
            "Qwen/Qwen-Image-Edit",
            _QWEN_ARGS,
            "qwen",
            batches=False,
            batch_note="QwenImageEditPipeline resizes a batch to its first photo's size: one photo per call",
            defaults={"negative_prompt": " "},
        ),
        PipelineSpec(
            "Flux2KleinPipeline",
            "black-forest-labs/FLUX.2-klein-4B",
            frozenset({"num_inference_steps", "guidance_scale"}) | SIZE_ARGS,
            "input",
            batches=False,
            batch_note="Flux2KleinPipeline reads a list of images as references for one edit: one photo per call",
        ),
        PipelineSpec(
            "LongCatImageEditPipeline",
            "meituan-longcat/LongCat-Image-Edit",
            frozenset({"num_inference_steps", "guidance_scale", "negative_prompt"}),
            "fixed",
            batches=False,
            batch_note="LongCatImageEditPipeline takes one image per call",
        ),
        PipelineSpec(
            "FluxKontextPipeline",
            "black-forest-labs/FLUX.1-Kontext-dev",
            frozenset({"num_inference_steps", "guidance_scale", "true_cfg_scale", "negative_prompt"}) | SIZE_ARGS,
            "kontext",
            batches=True,
        ),
        PipelineSpec(
            "StableDiffusionInstructPix2PixPipeline",
            "timbrooks/instruct-pix2pix",
            frozenset({"num_inference_steps", "guidance_scale", "image_guidance_scale", "negative_prompt"}),
            "input",
            batches=True,
        ),
    )
}
DEFAULT_MODEL = SPECS["QwenImageEditPlusPipeline"].example_model


def spec_for(class_name: str, model_index: dict[str, Any]) -> PipelineSpec:
    """The table's entry, or a one-at-a-time generic entry for a class the table does not know."""
    spec = SPECS.get(class_name)
    if spec is None:
        return PipelineSpec(
            class_name,
            "",
            frozenset({"num_inference_steps", "guidance_scale", "negative_prompt"}),
            "fixed",
            batches=False,
            batch_note=f"{class_name} is not in editforge's pipeline table: one photo per call",
        )
    if class_name == "Flux2KleinPipeline" and model_index.get("is_distilled"):
        # The distilled klein checkpoints are made for 4 steps without CFG; the pipeline defaults to 50 steps.
        return PipelineSpec(**{**spec.__dict__, "defaults": {"num_inference_steps": 4, "guidance_scale": 1.0}})
    return spec


def fit_area(width: int, height: int, area: int, multiple: int) -> tuple[int, int]:
    """(width, height) scaled to about `area` pixels at the same aspect ratio, rounded to `multiple`."""
    scale = (area / (width * height)) ** 0.5
    return (
        max(multiple, round(width * scale / multiple) * multiple),
        max(multiple, round(height * scale / multiple) * multiple),
    )
