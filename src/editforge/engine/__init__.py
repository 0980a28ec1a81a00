"""Runs stages: where and how concurrently, with the ledger as the single writer of run state."""
