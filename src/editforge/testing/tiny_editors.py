"""Tiny random-weight image-editing pipelines, saved like a real model folder (model_index.json + one
folder per component), for offline tests and smoke runs of the local editor.

Each builder makes the real diffusers pipeline class from small configs (hidden sizes 16–32, 1–2 layers,
tokenizers made in code so nothing is downloaded), puts every module in eval mode (train-mode dropout
would make same-seed runs differ), and `save_pretrained`s it. The folder then loads through exactly the
path a user's model takes: `DiffusionPipeline.from_pretrained(folder)` reading `model_index.json`.

`TINY_EDITOR_OPTIONS` are the editor options that keep one call around a tenth of a second on a CPU (the
pipelines' own defaults work at ~1 MP and 28–100 steps: minutes per call with these weights).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from editforge.testing.tiny_models import builder
from editforge.testing.tiny_vlm import qwen_tokenizer

# A real Qwen-Image-Edit folder names transformers' processor class; so does the tiny one. Loading it needs
# torchvision (its video half) or the editor's image-only fallback (models/local/processors.py).
PROCESSOR_ENTRY = ["transformers", "Qwen2VLProcessor"]
VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")


def _byte_vocab() -> dict[str, int]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return {ch: i for i, ch in enumerate(bytes_to_unicode().values())}


def clip_tokenizer() -> Any:
    from transformers import CLIPTokenizer

    vocab = _byte_vocab()
    vocab.update({ch + "</w>": len(vocab) + i for i, ch in enumerate(list(vocab))})
    vocab.update({"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1})
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def t5_tokenizer() -> Any:
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [(chr(c), -1.0) for c in range(32, 127)] + [("▁", -1.0)]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=512)


def _save(pipe: Any, folder: Path, fix_entries: dict[str, list[str]] | None = None) -> None:
    for module in pipe.components.values():
        if hasattr(module, "eval"):
            module.eval()
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(folder)
    if fix_entries:
        index_path = folder / "model_index.json"
        index = json.loads(index_path.read_text("utf-8"))
        index.update(fix_entries)
        index_path.write_text(json.dumps(index, indent=2), "utf-8")


@builder("qwen_image_edit_plus", "QwenImageEditPlusPipeline (editor; Qwen-Image-Edit-2509/2511's class)")
def build_qwen_image_edit_plus(folder: Path) -> None:
    """QwenImageEditPlusPipeline (Qwen-Image-Edit-2509 / 2511's class)."""
    import torch
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageEditPlusPipeline,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from editforge.models.local.processors import without_video

    tokenizer = qwen_tokenizer()
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in VISION_TOKENS}
    torch.manual_seed(0)
    transformer = QwenImageTransformer2DModel(
        patch_size=2,
        in_channels=16,
        out_channels=4,
        num_layers=2,
        attention_head_dim=16,
        num_attention_heads=3,
        joint_attention_dim=16,
        guidance_embeds=False,
        axes_dims_rope=(8, 4, 4),
    )
    z_dim = 4
    vae = AutoencoderKLQwenImage(
        base_dim=z_dim * 6,
        z_dim=z_dim,
        dim_mult=[1, 2, 4],
        num_res_blocks=1,
        temperal_downsample=[False, True],
        latents_mean=[0.0] * z_dim,
        latents_std=[1.0] * z_dim,
    )
    config = Qwen2_5_VLConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            # mrope_section must sum to head_dim / 2 (16 / 2 / 2 = 4)
            "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            "rope_theta": 1e6,
            "vocab_size": len(tokenizer),
            "bos_token_id": tokenizer.eos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        },
        vision_config={"depth": 2, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2, "out_hidden_size": 16},
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
    )
    text_encoder = Qwen2_5_VLForConditionalGeneration(config)
    image_processor = Qwen2VLImageProcessorPil(min_pixels=28 * 28, max_pixels=28 * 28 * 16)
    processor = without_video(Qwen2VLProcessor)(image_processor=image_processor, tokenizer=tokenizer)
    pipe = QwenImageEditPlusPipeline(
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        processor=processor,
    )
    # save_pretrained records the image-only subclass's module; the real folder names transformers' class.
    _save(pipe, folder, {"processor": PROCESSOR_ENTRY})


@builder("flux2_klein", "Flux2KleinPipeline, distilled (editor; FLUX.2 [klein] 4B's class)")
def build_flux2_klein(folder: Path) -> None:
    """Flux2KleinPipeline (FLUX.2 [klein]); distilled like the 4B release (4 steps, guidance 1)."""
    import torch
    from diffusers import (
        AutoencoderKLFlux2,
        FlowMatchEulerDiscreteScheduler,
        Flux2KleinPipeline,
        Flux2Transformer2DModel,
    )
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = qwen_tokenizer()
    torch.manual_seed(0)
    transformer = Flux2Transformer2DModel(
        patch_size=1,
        in_channels=8,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=48,  # the text encoder's hidden size × the 3 layers the pipeline stacks
        timestep_guidance_channels=256,
        axes_dims_rope=[4, 4, 4, 4],
        guidance_embeds=False,
    )
    config = Qwen3Config(
        hidden_size=16,
        intermediate_size=16,
        num_hidden_layers=28,  # the pipeline reads hidden layers 9, 18 and 27 (tiny layers cost little)
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=8,
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        max_position_embeddings=512,
    )
    text_encoder = Qwen3ForCausalLM(config)
    vae = AutoencoderKLFlux2(
        sample_size=32,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(4, 8),
        layers_per_block=1,
        latent_channels=2,
        norm_num_groups=1,
        use_quant_conv=False,
        use_post_quant_conv=False,
    )
    pipe = Flux2KleinPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
        is_distilled=True,
    )
    _save(pipe, folder)


@builder("flux_kontext", "FluxKontextPipeline (editor; FLUX.1 Kontext dev's class)")
def build_flux_kontext(folder: Path) -> None:
    """FluxKontextPipeline (FLUX.1 Kontext dev)."""
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxKontextPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    tokenizer, tokenizer_2 = clip_tokenizer(), t5_tokenizer()
    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=8,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        axes_dims_rope=[4, 4, 8],
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=len(tokenizer) - 2,
            eos_token_id=len(tokenizer) - 1,
            pad_token_id=len(tokenizer) - 1,
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=len(tokenizer),
            projection_dim=32,
        )
    )
    text_encoder_2 = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer_2), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4, dropout_rate=0.1)
    )
    vae = AutoencoderKL(
        sample_size=32,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(4, 8),
        layers_per_block=1,
        latent_channels=2,
        norm_num_groups=1,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )
    pipe = FluxKontextPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        transformer=transformer,
    )
    _save(pipe, folder)


@builder("instruct_pix2pix", "StableDiffusionInstructPix2PixPipeline (editor; no safety checker)")
def build_instruct_pix2pix(folder: Path) -> None:
    """StableDiffusionInstructPix2PixPipeline (timbrooks/instruct-pix2pix), without a safety checker."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionInstructPix2PixPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = clip_tokenizer()
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=16,
        in_channels=8,  # the noisy latent and the source image's latent, side by side
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=4,
        attention_head_dim=4,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=4,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=len(tokenizer) - 2,
            eos_token_id=len(tokenizer) - 1,
            pad_token_id=len(tokenizer) - 1,
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=len(tokenizer),
        )
    )
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=EulerAncestralDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    _save(pipe, folder)


# Editor options that make a tiny pipeline's call fast on a CPU (see the module docstring).
TINY_EDITOR_OPTIONS: dict[str, dict[str, Any]] = {
    "qwen_image_edit_plus": {"steps": 2, "max_area": 64 * 64, "condition_area": 56 * 56},
    "flux2_klein": {"steps": 2, "max_area": 96 * 96},
    "flux_kontext": {"steps": 2, "max_area": 64 * 64, "auto_resize": False},
    "instruct_pix2pix": {"steps": 2, "max_area": 64 * 64},
}
