"""Fake model servers on 127.0.0.1 that speak the real wire protocols, for tests and benchmarks.

They let anyone exercise the hosted providers through the official SDKs — errors included — with no
key and no network. Their "models" are editforge's own offline ones, so a run against them makes the
same kind of dataset as the offline demo.
"""
