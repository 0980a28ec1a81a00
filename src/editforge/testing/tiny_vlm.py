"""Tiny Qwen-VL and Qwen2 builders for the tiny-model registry (writer, judge, rewriter; and the text
encoder the Qwen image-edit pipelines use). See tiny_models.py for the command.

The tokenizer is byte-level over the 256 byte symbols with no merges, plus Qwen's special tokens, so
any text round-trips; the chat template is a minimal ChatML with image placeholders like Qwen's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from editforge.testing.tiny_models import builder

SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
    "<|video_pad|>",
)  # fmt: skip
THINK_TOKENS = ("<think>", "</think>")  # added but not special, as in Qwen3's tokenizer: decoding keeps them
QWEN_IMAGE = "<|vision_start|><|image_pad|><|vision_end|>"


def chat_template(image_part: str = QWEN_IMAGE) -> str:
    return (
        "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
        "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for part in message['content'] %}"
        "{% if part['type'] == 'image' %}" + image_part + "{% elif part['type'] == 'text' %}{{ part['text'] }}"
        "{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
        "{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n\n{% endif %}{% endif %}"
    )


CHAT_TEMPLATE = chat_template()
# InternVL's named image tokens (tokenizer.start_image_token, ...), which its processor reads.
INTERNVL_TOKENS = {
    "start_image_token": "<img>", "end_image_token": "</img>", "context_image_token": "<IMG_CONTEXT>",
    "video_token": "<video>",
}  # fmt: skip
HIDDEN = 32


def qwen_tokenizer(named_tokens: dict[str, str] | None = None, template: str = CHAT_TEMPLATE) -> Any:
    """A Qwen2 fast tokenizer built in code: byte-level, no merges, Qwen's special tokens, ChatML template;
    `named_tokens` adds model-specific special tokens reachable by name (InternVL's image tokens)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    vocab = {symbol: index for index, symbol in enumerate(bytes_to_unicode().values())}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = decoders.ByteLevel()
    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        extra_special_tokens=named_tokens,
    )
    specials = [*SPECIAL_TOKENS, *(named_tokens or {}).values()]
    tokenizer.add_special_tokens({"additional_special_tokens": specials}, replace_extra_special_tokens=False)
    tokenizer.add_tokens(list(THINK_TOKENS))
    tokenizer.chat_template = template
    return tokenizer


def _token_ids(tokenizer: Any) -> dict[str, int]:
    return dict(zip(SPECIAL_TOKENS, tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS)), strict=True))


def _text_config(tokenizer: Any, **extra: Any) -> dict[str, Any]:
    ids = _token_ids(tokenizer)
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": HIDDEN,
        "intermediate_size": 2 * HIDDEN,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "bos_token_id": None,
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
        **extra,
    }


def _vision_token_ids(tokenizer: Any) -> dict[str, int]:
    ids = _token_ids(tokenizer)
    return {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
    }


def _finish(model: Any, tokenizer: Any, folder: Path) -> None:
    ids = _token_ids(tokenizer)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.eval()  # built models start in training mode; dropout would make same-seed runs differ
    model.save_pretrained(folder)


def vl_processor(processor_class: type, tokenizer: Any, patch_size: int) -> Any:
    """A Qwen-VL processor without its video part (torchvision-free); small images → few vision tokens."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from editforge.models.local.processors import without_video

    factor = patch_size * 2  # merge_size 2
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=patch_size,
        merge_size=2,
        temporal_patch_size=2,
        size={"shortest_edge": factor * factor * 4, "longest_edge": factor * factor * 16},
    )
    processor = without_video(processor_class)
    return processor(image_processor=image_processor, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE)


def qwen2_5_vl_model(tokenizer: Any) -> Any:
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    config = Qwen2_5_VLConfig(
        # mrope_section must sum to head_dim / 2 (32 / 4 heads = 8 → 4)
        text_config=_text_config(
            tokenizer, rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [1, 1, 2]}
        ),
        vision_config={
            "depth": 1,
            "hidden_size": HIDDEN,
            "intermediate_size": 2 * HIDDEN,
            "num_heads": 2,
            "out_hidden_size": HIDDEN,
            "patch_size": 14,
            "window_size": 56,
            "fullatt_block_indexes": [0],
        },  # fmt: skip
        **_vision_token_ids(tokenizer),
    )
    return Qwen2_5_VLForConditionalGeneration(config)


@builder("vlm", "Qwen3-VL (writer and judge; the default local writer/judge architecture)")
def build_qwen3_vl(folder: Path) -> None:
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor

    tokenizer = qwen_tokenizer()
    text = _text_config(
        tokenizer,
        head_dim=8,
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 10000.0,
            "mrope_section": [1, 1, 2],
            "mrope_interleaved": True,
        },  # fmt: skip
    )
    config = Qwen3VLConfig(
        text_config=text,
        vision_config={
            "depth": 2,
            "hidden_size": HIDDEN,
            "intermediate_size": 2 * HIDDEN,
            "num_heads": 2,
            "out_hidden_size": HIDDEN,
            "patch_size": 16,
            "num_position_embeddings": 64,
            "deepstack_visual_indexes": [1],
        },  # fmt: skip
        **_vision_token_ids(tokenizer),
    )
    _finish(Qwen3VLForConditionalGeneration(config), tokenizer, folder)
    vl_processor(Qwen3VLProcessor, tokenizer, patch_size=16).save_pretrained(folder)


@builder("qwen2_5_vl", "Qwen2.5-VL (writer and judge; the base of EditScore-7B and of Qwen-Image-Edit's encoder)")
def build_qwen2_5_vl(folder: Path) -> None:
    from transformers import Qwen2_5_VLProcessor

    tokenizer = qwen_tokenizer()
    _finish(qwen2_5_vl_model(tokenizer), tokenizer, folder)
    vl_processor(Qwen2_5_VLProcessor, tokenizer, patch_size=14).save_pretrained(folder)


@builder("qwen3_5", "Qwen3.5 (hybrid linear/full attention, thinking on by default; writer and judge)")
def build_qwen3_5(folder: Path) -> None:
    from transformers import Qwen3_5Config, Qwen3_5ForConditionalGeneration, Qwen3VLProcessor

    tokenizer = qwen_tokenizer()
    text = _text_config(
        tokenizer,
        head_dim=8,
        linear_key_head_dim=8,
        linear_value_head_dim=8,
        linear_num_key_heads=2,
        linear_num_value_heads=4,
        layer_types=["linear_attention", "full_attention"],
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 10000.0,
            "mrope_section": [1, 1, 2],
            "mrope_interleaved": True,
            "partial_rotary_factor": 1.0,
        },  # fmt: skip
    )
    config = Qwen3_5Config(
        text_config=text,
        vision_config={
            "depth": 1,
            "hidden_size": HIDDEN,
            "intermediate_size": 2 * HIDDEN,
            "num_heads": 2,
            "out_hidden_size": HIDDEN,
            "patch_size": 16,
            "num_position_embeddings": 64,
        },  # fmt: skip
        **_vision_token_ids(tokenizer),
    )
    _finish(Qwen3_5ForConditionalGeneration(config), tokenizer, folder)
    vl_processor(Qwen3VLProcessor, tokenizer, patch_size=16).save_pretrained(folder)


@builder("internvl", "InternVL (Qwen2 language model; writer and judge)")
def build_internvl(folder: Path) -> None:
    from transformers import InternVLConfig, InternVLForConditionalGeneration, InternVLProcessor
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

    from editforge.models.local.processors import without_video

    template = chat_template("<IMG_CONTEXT>\n")  # the processor expands it to <img> + context tokens + </img>
    tokenizer = qwen_tokenizer(INTERNVL_TOKENS, template)
    side, patch = 56, 14
    tokens_per_image = (side // patch) ** 2 // 4  # downsample_ratio 0.5 merges 2 × 2 patches
    config = InternVLConfig(
        vision_config={
            "hidden_size": HIDDEN,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 2 * HIDDEN,
            "image_size": [side, side],
            "patch_size": [patch, patch],
        },  # fmt: skip
        text_config={"model_type": "qwen2", **_text_config(tokenizer)},
        image_token_id=tokenizer.context_image_token_id,
        image_seq_length=tokens_per_image,
        downsample_ratio=0.5,
    )
    _finish(InternVLForConditionalGeneration(config), tokenizer, folder)
    image_processor = GotOcr2ImageProcessorPil(size={"height": side, "width": side}, crop_to_patches=False)
    processor = without_video(InternVLProcessor)
    processor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=template, image_seq_length=tokens_per_image
    ).save_pretrained(folder)


@builder("lm", "Qwen2 causal LM (rewriter, like Qwen2.5-7B-Instruct)")
def build_qwen2_lm(folder: Path) -> None:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = qwen_tokenizer()
    config = Qwen2Config(**_text_config(tokenizer), tie_word_embeddings=True)
    _finish(Qwen2ForCausalLM(config), tokenizer, folder)
    tokenizer.save_pretrained(folder)
