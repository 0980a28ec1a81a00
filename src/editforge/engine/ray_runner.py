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

import contextlib
import importlib.util
import logging
import os
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ray

from editforge.config import ConfigError
from editforge.engine.calls import Dispatcher
from editforge.engine.ray_pool import ActorPoolExecutor, WorkerInit
from editforge.engine.runner import LocalRunner
from editforge.models import registry


class RayRunner(LocalRunner):
    pools: dict[str, ActorPoolExecutor]  # pool name ("cpu" or a device role) → its pool, while running
    batch_stats: dict[str, list[dict[str, Any]]]  # device role → each actor's batching figures, at the end

    @contextmanager
    def _executors(self, models: dict[str, Any]) -> Iterator[dict[str, Executor]]:
        started = self._connect()
        self.pools = {}
        try:
            settings = self.config.ray
            init = self._worker_init()
            execution = {role: getattr(model, "execution", "cpu") for role, model in models.items()}
            cpu = ActorPoolExecutor(
                "cpu", settings.pool("cpu", "cpu", self.config.workers), init, settings.resubmits, settings.idle_s
            )
            self.pools["cpu"] = cpu
            executors: dict[str, Executor] = {"ingest": cpu, "prefilter": cpu}
            for role, kind in execution.items():
                if kind == "device":
                    spec = settings.pool(role, kind, self.config.workers)
                    if spec.max_concurrency is None:  # one batch fills while the previous one runs
                        spec = spec.model_copy(update={"max_concurrency": 2 * _max_batch(models[role])})
                    self._check_gpus(role, spec.num_gpus)
                    pool = ActorPoolExecutor(role, spec, init, settings.resubmits, settings.idle_s, device_role=role)
                    self.pools[role] = executors[role] = pool
                else:  # "cpu" runs here; "io" never reaches an executor (the dispatcher's threads call it)
                    executors[role] = cpu
            yield executors
        finally:
            self.batch_stats = {}
            for name, pool in self.pools.items():
                if name != "cpu":
                    with contextlib.suppress(ray.exceptions.RayError):
                        self.batch_stats[name] = pool.batch_stats(timeout_s=10)
                pool.shutdown()
            if started:
                ray.shutdown()

    def _check_gpus(self, role: str, wanted: float) -> None:
        # Not an error: an autoscaling cluster adds GPU nodes when actors ask for them. But on a fixed
        # cluster without GPUs the actors would wait forever, so say why nothing moves.
        have = ray.cluster_resources().get("GPU", 0)
        if wanted > have:
            self.console.print(
                f"[yellow]the {role} asks for {wanted:g} GPU per actor and the cluster has {have:g} now[/]: its actors "
                f"wait for GPU nodes (set ray.roles.{role}.num_gpus: 0 to run it on CPUs)"
            )

    def _worker_init(self) -> WorkerInit:
        providers = dict(registry.PROVIDERS)
        paths = set()
        for module in providers.values():  # a plug-in provider must import in the actors as it does here
            found = importlib.util.find_spec(module)
            if found is not None and found.origin and not module.startswith("editforge."):
                paths.add(str(Path(found.origin).parent))
        run_dir = str(self.run_dir.resolve())
        return WorkerInit(run_dir, self.config.roles, self.config.images_uri, providers, tuple(sorted(paths)))

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
        slots = sum(p.max_actors * p.slots for p in self.pools.values())
        return max(super()._concurrency(dispatcher), slots * 2)


def _max_batch(model: Any) -> int:
    return max(1, int(getattr(model, "max_batch", 1)))
