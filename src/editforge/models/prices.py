"""What a model call costs: a price table per model, shipped with defaults, overridable in config.

Prices are USD per million tokens (input, output) plus a price per generated image. The defaults are
list prices as published by the vendors (Gemini 2.5 as of 2025; OpenAI's 2026 models partly from
third-party listings); they change, so a run that matters should pin its own in the config
(`prices:`). A model missing from the table costs 0 and is reported as unpriced.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from editforge.records import Usage


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_per_mtok: float = Field(default=0.0, ge=0)
    output_per_mtok: float = Field(default=0.0, ge=0)
    per_image: float = Field(default=0.0, ge=0)


DEFAULT_PRICES: dict[str, Price] = {
    # Google Gemini (ai.google.dev/pricing, standard tier, prompts ≤ 200k tokens)
    "gemini-2.5-flash": Price(input_per_mtok=0.30, output_per_mtok=2.50),
    "gemini-2.5-pro": Price(input_per_mtok=1.25, output_per_mtok=10.00),
    "gemini-2.5-flash-image": Price(input_per_mtok=0.30, per_image=0.039),
    # OpenAI (openai.com/api/pricing; the openai_compat defaults first — image models bill by token)
    "gpt-6.2-sol": Price(input_per_mtok=2.00, output_per_mtok=10.00),
    "gpt-6.1-terra": Price(input_per_mtok=1.00, output_per_mtok=5.00),
    "gpt-6-luna": Price(input_per_mtok=0.10, output_per_mtok=0.50),
    "gpt-image-2.5-sunburst": Price(input_per_mtok=8.00, output_per_mtok=30.00),
    "gpt-image-2.5-flare": Price(input_per_mtok=8.00, output_per_mtok=30.00),
    "gpt-4.1": Price(input_per_mtok=2.00, output_per_mtok=8.00),
    "gpt-4.1-mini": Price(input_per_mtok=0.40, output_per_mtok=1.60),
    "gpt-4o-mini": Price(input_per_mtok=0.15, output_per_mtok=0.60),
    "gpt-image-1": Price(input_per_mtok=10.00, per_image=0.042),
    # Keyless, local models
    "template-writer": Price(),
    "rule-rewriter": Price(),
    "classical-editor": Price(),
    "metric-judge": Price(),
}


class PriceTable:
    def __init__(self, overrides: dict[str, Price] | None = None) -> None:
        self.prices = {**DEFAULT_PRICES, **(overrides or {})}

    def known(self, model: str) -> bool:
        return model in self.prices

    def cost(self, model: str, usage: Usage) -> float:
        price = self.prices.get(model)
        if price is None:
            return 0.0
        return round(
            usage.input_tokens * price.input_per_mtok / 1e6
            + usage.output_tokens * price.output_per_mtok / 1e6
            + usage.images * price.per_image,
            8,
        )
