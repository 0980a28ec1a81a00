"""Stages: pure-ish functions from records to records.

They know nothing of threads, processes or Ray; the engine decides where they run. Images go in
and out through an `ImageIO` (put / get by store path), so a stage never knows where pixels live.
"""
