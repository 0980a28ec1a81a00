"""`editforge calibrate`: how well a judge agrees with people, and which threshold it should use.

labels (labels.py) → verdicts, cached (judging.py) → agreement metrics (metrics.py) → terminal, JSON
and an HTML page (page.py).
"""
