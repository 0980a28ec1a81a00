"""Whether a run directory's run is running, was stopped, was killed or finished — for `status`.

The runner writes its state into the ledger when it starts and when it ends; the lock says whether a
process holds the directory now. "running" in the ledger with no process holding the lock is a run
that died without saying so (killed, a crash, a second Ctrl-C).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from editforge.store.ledger import Ledger
from editforge.store.lock import lock_holder

State = Literal["running", "finished", "stopped", "killed", "unknown"]
_KEY = "run_state"


def mark(ledger: Ledger, state: Literal["running", "finished", "stopped"], reason: str | None = None) -> None:
    ledger.set_meta(_KEY, json.dumps({"state": state, "reason": reason, "at": time.time()}))


@dataclass
class RunState:
    state: State
    reason: str | None = None
    pid: str | None = None

    def line(self) -> str:
        if self.state == "running":
            return f"running (pid {self.pid})"
        if self.state == "finished":
            return "finished"
        if self.state == "stopped":
            return f"stopped: {self.reason}"
        if self.state == "killed":
            return "killed: it ended without finishing or saying why (SIGKILL, a crash or a second Ctrl-C)"
        return "not known (made by an editforge that did not record it)"


def read_state(run_dir: Path, ledger: Ledger) -> RunState:
    pid = lock_holder(run_dir)
    if pid is not None:
        return RunState("running", pid=pid)
    raw = ledger.get_meta(_KEY)
    if raw is None:
        return RunState("unknown")
    recorded = json.loads(raw)
    if recorded["state"] == "running":  # said it was running, yet nothing holds the lock
        return RunState("killed")
    return RunState(recorded["state"], recorded.get("reason"))
