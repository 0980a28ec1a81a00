"""Shared by the offline writer, editor and judge: photo analysis, named colours, the instruction grammar."""
