"""Loading a transformers model from its folder and generating text for a batch of chats, one seed per row.

`generate` samples each row with its own `torch.Generator`, so a row's text depends on its prompt and seed,
not on which other rows shared its batch (left padding keeps the rows aligned). transformers' sampler
draws from one global generator for the whole batch; here a logits processor draws each row's token from
its own generator and masks every other token, and generate's greedy step then takes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from editforge.models.local.common import out_of_memory_as_transient, torch_dtype

THOUGHT_END = "</think>"


def without_thought(raw: str) -> str:
    """The reply after a thinking model's thought. Some templates open <think> in the prompt, so the reply
    may hold only the closing tag; a thought cut off by max_new_tokens leaves no reply at all."""
    if THOUGHT_END in raw:
        return raw.rsplit(THOUGHT_END, 1)[1].strip()
    return "" if raw.lstrip().startswith("<think>") else raw.strip()


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.7  # 0: greedy (deterministic, seeds unused)
    top_p: float = 0.8
    top_k: int = 20
    max_new_tokens: int = 256


@dataclass
class Generated:
    text: str  # the reply, any leading <think>…</think> removed
    raw: str  # everything the model emitted (special tokens aside), for the ledger
    input_tokens: int
    output_tokens: int
    device_seconds: float  # this row's share of the batch's time


def _row_sampler(generators: list[Any], sampling: Sampling) -> Any:
    import torch
    from transformers import LogitsProcessor

    class SeededRowSampler(LogitsProcessor):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            logits = scores.float() / sampling.temperature
            if 0 < sampling.top_k < logits.shape[-1]:
                kth = torch.topk(logits, sampling.top_k, dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            if 0 < sampling.top_p < 1:
                ordered, order = torch.sort(logits, descending=True, dim=-1)
                cumulative = ordered.softmax(-1).cumsum(-1)
                drop = cumulative - ordered.softmax(-1) > sampling.top_p  # keep the token that crosses top_p
                logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
            probs = logits.softmax(-1)
            chosen = torch.cat([torch.multinomial(probs[row], 1, generator=g) for row, g in enumerate(generators)])
            forced = torch.full_like(scores, float("-inf"))
            return forced.scatter(-1, chosen.unsqueeze(-1), 0.0)

    return SeededRowSampler()


class TextModel:
    """A loaded model plus its processor (VLM) or tokenizer (LM) on one device."""

    def __init__(self, folder: Path, device: str, dtype: str, vision: bool, adapter: Path | None = None) -> None:
        import transformers

        from editforge.models.local.processors import load_processor

        self.device = device
        self.vision = vision
        auto = transformers.AutoModelForImageTextToText if vision else transformers.AutoModelForCausalLM
        kwargs: dict[str, Any] = {"dtype": torch_dtype(dtype, device), "local_files_only": True}
        if device != "cpu":
            kwargs["device_map"] = device  # straight onto the device, no full copy in host memory
        model = auto.from_pretrained(folder, **kwargs)
        if adapter is not None:
            from peft import PeftModel

            # Merged once at load: a LoRA (e.g. EditScore's) then costs nothing per call.
            model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
        self.model = model.to(device).eval()
        if vision:
            self.processor = load_processor(folder)
        else:
            self.processor = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.tokenizer = self.processor.tokenizer if vision else self.processor
        self.tokenizer.padding_side = "left"  # decoder-only batches pad on the left
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self.eos_ids.add(self.tokenizer.eos_token_id)

    def _prompt(self, text: str, images: int) -> str:
        content: Any = text
        if self.vision:
            content = [*({"type": "image"} for _ in range(images)), {"type": "text", "text": text}]
        # enable_thinking=False turns thinking off where a template has it (Qwen3.5, Qwen3); others ignore it.
        return self.processor.apply_chat_template(
            [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False, enable_thinking=False
        )

    def generate(
        self, prompts: list[str], images: list[list[np.ndarray]] | None, seeds: list[int], sampling: Sampling
    ) -> list[Generated]:
        import torch
        from PIL import Image

        texts = [self._prompt(p, len(images[i]) if images else 0) for i, p in enumerate(prompts)]
        if self.vision and images:
            pil = [[Image.fromarray(np.ascontiguousarray(a)) for a in row] for row in images]
            inputs = self.processor(text=texts, images=pil, padding=True, return_tensors="pt")
            inputs = inputs.to(self.device, dtype=self.model.dtype)  # pixel values in the weights' dtype (bf16)
        else:
            inputs = self.tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
            inputs = inputs.to(self.device)
        kwargs: dict[str, Any] = {"max_new_tokens": sampling.max_new_tokens, "do_sample": False}
        kwargs.update(temperature=None, top_p=None, top_k=None)  # the model's own sampling defaults stay unused
        if sampling.temperature > 0:
            # On the model's device: multinomial wants its generator where the probabilities are.
            generators = [torch.Generator(self.device).manual_seed(int(seed)) for seed in seeds]
            kwargs["logits_processor"] = [_row_sampler(generators, sampling)]
        started = time.perf_counter()
        with out_of_memory_as_transient(f"local {type(self.model).__name__}"), torch.inference_mode():
            output = self.model.generate(**inputs, **kwargs)
            if self.device.startswith("cuda"):
                torch.cuda.synchronize(self.device)
        share = (time.perf_counter() - started) / len(prompts)
        new = output[:, inputs["input_ids"].shape[1] :].tolist()
        lengths = inputs["attention_mask"].sum(dim=1).tolist()
        results = []
        for row, tokens in enumerate(new):
            used = next((i + 1 for i, t in enumerate(tokens) if t in self.eos_ids), len(tokens))
            raw = self.tokenizer.decode(tokens[:used], skip_special_tokens=True)
            results.append(Generated(without_thought(raw), raw, int(lengths[row]), used, share))
        return results
