"""The Ray engine: the local engine's flow, with its work on a Ray cluster's actors.

Everything that decides *what* happens — plan, flow, attempts, sessions, targets, the ledger, budget
and rate limits — is the local runner's, unchanged, in this (driver) process. Only `_executors` is
different: each role's calls go to a pool of Ray actors (engine.ray_pool) instead of local worker
processes. Offline roles, ingest and the prefilter share one CPU pool; a role on a device (a local
GPU model) gets its own pool, each actor asking Ray for `num_gpus`. Hosted ("io") roles stay in the
driver's threads, so their rate limits and the budget are one per model for the whole cluster.

Why Ray Core actors driven by the existing flow rather than Ray Data: see docs/scale.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any

import ray

from editforge.config import ConfigError
from editforge.engine.calls import Dispatcher
from editforge.engine.ray_pool import ActorPoolExecutor
from editforge.engine.runner import LocalRunner


class RayRunner(LocalRunner):
    pools: dict[str, ActorPoolExecutor]  # pool name ("cpu" or a device role) → its pool, while running

    @contextmanager
    def _executors(self, models: dict[str, Any]) -> Iterator[dict[str, Executor]]:
        started = self._connect()
        self.pools = {}
        try:
            settings = self.config.ray
            init = (str(self.run_dir.resolve()), self.config.roles, self.config.images_uri)
            execution = {role: getattr(model, "execution", "cpu") for role, model in models.items()}
            cpu = ActorPoolExecutor(
                "cpu", settings.pool("cpu", "cpu", self.config.workers), init, settings.resubmits, settings.idle_s
            )
            self.pools["cpu"] = cpu
            executors: dict[str, Executor] = {"ingest": cpu, "prefilter": cpu}
            for role, kind in execution.items():
                if kind == "device":
                    spec = settings.pool(role, kind, self.config.workers)
                    self.pools[role] = ActorPoolExecutor(role, spec, init, settings.resubmits, settings.idle_s)
                    executors[role] = self.pools[role]
                else:  # "cpu" runs here; "io" never reaches an executor (the dispatcher's threads call it)
                    executors[role] = cpu
            yield executors
        finally:
            for pool in self.pools.values():
                pool.shutdown()
            if started:
                ray.shutdown()

    def _connect(self) -> bool:
        """Join the cluster the config names, or start a local Ray; True when this run started it."""
        if ray.is_initialized():  # a caller (a notebook, the tests) already connected this process
            return False
        address = self.config.ray_address or os.environ.get("RAY_ADDRESS") or None
        quiet = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": not self.quiet}
        try:
            if address:
                ray.init(address=address, **quiet)
            else:
                # On a small machine Ray needs more logical CPUs than cores or its own actors starve.
                ray.init(num_cpus=max(self.config.ray.local_cpus, self.config.workers), **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"cannot reach the Ray cluster at {address or '(local)'}: {exc}") from exc
        return True

    def _concurrency(self, dispatcher: Dispatcher) -> int:
        # Keep every actor slot of every pool busy with one call waiting behind it, like the local engine.
        slots = sum((p.max_actors * p.spec.max_concurrency) for p in self.pools.values())
        return max(super()._concurrency(dispatcher), slots * 2)
