"""Local models on devices: long-lived spawned workers, one per (role, device), that batch concurrent calls.

`batching` runs inside any worker (a spawned process here, a Ray actor in the Ray engine); `worker` is
the spawned process's main; `pool` starts, feeds, watches and replaces those processes for the runner.
"""
