"""What a run will cost before it spends anything: photos × types × expected attempts × price.

Expected attempts per task come from Pico-Banana-400K's per-type success rates (the mean of the known
rates where the paper gives none): with success rate p and at most n attempts a task makes
1 + (1−p) + … + (1−p)^(n−1) edit and judge calls, and passes with probability 1 − (1−p)^n. Token
counts per call are typical sizes (engine.calls.TYPICAL_USAGE); images are priced per image.

Multi-turn sessions add their later turns: each of the `targets.multi_turn` sessions runs the mean of
its planned lengths (sessions.lengths) less its first turn, every turn a task like any other. (A turn
that fails ends a session early, and a session that made no example is replaced: the two roughly
cancel, so the planned length is the estimate.)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from editforge import taxonomy
from editforge.config import RunConfig
from editforge.engine.calls import TYPICAL_USAGE
from editforge.models.prices import PriceTable
from editforge.models.registry import PROVIDERS, ProviderError


@dataclass
class RoleEstimate:
    role: str
    model: str
    calls: float
    cost_usd: float
    priced: bool


@dataclass
class Estimate:
    photos: int
    tasks: int  # single-turn tasks
    expected_examples: float
    roles: list[RoleEstimate]
    turns: float = 0.0  # later turns of multi-turn sessions, each a task

    @property
    def total_usd(self) -> float:
        return sum(r.cost_usd for r in self.roles)

    @property
    def per_example_usd(self) -> float:
        return self.total_usd / self.expected_examples if self.expected_examples else 0.0


def model_for(provider: str, role: str, model: str | None) -> str:
    """The model a role will use, without building it (no key needed to estimate)."""
    if provider not in PROVIDERS:
        raise ProviderError(f"unknown provider {provider!r} for {role}; known: {', '.join(sorted(PROVIDERS))}")
    if model:
        return model
    module = importlib.import_module(PROVIDERS[provider])
    defaults = getattr(module, "DEFAULT_MODELS", None) or getattr(module, "MODELS", {})
    return defaults.get(role, f"{provider}-default")


def _success_rates(types: list[str]) -> dict[str, float]:
    known = [t.paper_success_rate for t in taxonomy.all_types() if t.paper_success_rate]
    mean = sum(known) / len(known)
    return {k: taxonomy.get(k).paper_success_rate or mean for k in types}


def estimate(config: RunConfig, photos: int) -> Estimate:
    types = config.edit_types or taxonomy.keys()
    per_photo = min(config.per_photo, len(types))
    tasks = photos * per_photo
    lengths = config.sessions.lengths
    mean_length = sum(k * w for k, w in lengths.items()) / sum(lengths.values())
    turns = min(config.targets.multi_turn or 0, tasks) * (mean_length - 1)
    rates = _success_rates(list(types))
    n = config.max_attempts
    mean_attempts = sum(sum((1 - p) ** k for k in range(n)) for p in rates.values()) / len(rates)
    mean_pass = sum(1 - (1 - p) ** n for p in rates.values()) / len(rates)
    prices = PriceTable(config.prices)
    roles = []
    for role, calls_per_task in (
        ("writer", 1.0),
        ("rewriter", 1.0),
        ("editor", mean_attempts),
        ("judge", mean_attempts * config.judge_passes),  # each pass of a multi-pass judge is a call
    ):
        spec = getattr(config.roles, role)
        model = model_for(spec.provider, role, spec.model)
        calls = (tasks + turns) * calls_per_task
        roles.append(
            RoleEstimate(role, model, calls, calls * prices.cost(model, TYPICAL_USAGE[role]), prices.known(model))
        )
    return Estimate(photos=photos, tasks=tasks, expected_examples=tasks * mean_pass, roles=roles, turns=turns)
