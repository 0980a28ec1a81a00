"""Which settings make a run what it is: a resume must keep them, or it is another run."""

from __future__ import annotations

import json
from typing import Any

from editforge.config import ConfigError, RunConfig
from editforge.store.ledger import Ledger

# Settings that decide *what* a run makes: a resume must use the same ones or it is another run.
# `threshold` and `judge_prefilter` decide which attempts pass: changed mid-run, one dataset would mix two bars.
PLAN_KEYS = (
    "source", "images", "urls", "photos", "per_photo", "edit_types", "seed", "max_side", "max_attempts", "roles",
    "type_weights", "sessions", "judge_passes", "threshold", "judge_prefilter",
)  # fmt: skip
# Role options that say where and how fast a local model runs, not what it makes: a run may resume on
# other devices or with another batch size.
PLACEMENT_OPTIONS = ("devices", "batch_size", "batch_wait_s")


def check_same_run(config: RunConfig, ledger: Ledger) -> None:
    """Refuse to resume a run with settings that change what it makes; adopt those that do not."""
    judged_at = ledger.verdict_thresholds() - {config.threshold}
    if judged_at:
        raise ConfigError(
            f"{config.out} holds verdicts judged at threshold {', '.join(map(str, sorted(judged_at)))}, not "
            f"{config.threshold}; resume it with that threshold or choose another --out"
        )
    settings = json.dumps(config.model_dump(mode="json", include=set(PLAN_KEYS)), sort_keys=True)
    previous = ledger.get_meta("plan_settings")
    if previous is None:
        ledger.set_meta("plan_settings", settings)
    elif previous != settings:
        before, now = _placement_free(json.loads(previous)), _placement_free(json.loads(settings))
        # A key added to PLAN_KEYS since the ledger was made is adopted (its verdicts were checked above);
        # so is a change of where models run only (other GPUs, another batch size): the same run.
        changed = ", ".join(k for k in PLAN_KEYS if k in before and before[k] != now.get(k))
        if changed:
            raise ConfigError(
                f"{config.out} holds a run with other settings ({changed}); resume it with the same "
                "settings or choose another --out"
            )
        ledger.set_meta("plan_settings", settings)


def _placement_free(settings: dict[str, Any]) -> dict[str, Any]:
    for spec in (settings.get("roles") or {}).values():
        for key in PLACEMENT_OPTIONS if isinstance(spec, dict) else ():  # an optional role may be unset
            (spec.get("options") or {}).pop(key, None)
    return settings
