"""One run per directory: a second run on the same OUT refuses instead of corrupting it.

The lock is an flock on OUT/.editforge.lock, which the OS releases if the run is killed. A run that
ends removes the file, so a finished run directory holds only what people asked for. Removing a lock
file races with a run that has just opened it; a run that wins the flock therefore checks that the
file it locked is still the one at the path, and starts again if not.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class RunLockedError(RuntimeError):
    pass


class RunLock:
    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / ".editforge.lock"
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released by the OS if the run is killed
            except BlockingIOError:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise RunLockedError(
                    f"{self.path.parent}: another editforge run (pid {holder}) is using this directory; "
                    "wait for it to finish or choose another --out"
                ) from None
            if self._still_at_path(fd):
                break
            os.close(fd)  # the run before us removed this file as we opened it: lock the new one
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def _still_at_path(self, fd: int) -> bool:
        try:
            at_path = os.stat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (at_path.st_dev, at_path.st_ino) == (held.st_dev, held.st_ino)

    def remove(self) -> None:
        """Delete the lock file while still holding it (the run is ending)."""
        if self._fd is not None:
            self.path.unlink(missing_ok=True)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            self.remove()
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def lock_holder(run_dir: Path) -> str | None:
    """The pid of the run holding `run_dir` now, or None when no run is using it (nothing is created)."""
    path = Path(run_dir) / ".editforge.lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            # Shared and at once: a probe never blocks, and a run's exclusive lock makes it fail.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
