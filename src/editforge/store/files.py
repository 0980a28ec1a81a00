"""Files a reader can see are always complete: write to a temporary name, then rename; a folder or a set
of files is replaced as a whole.

The temporary file is created owner-only (mkstemp), so it is given the permissions any new file gets
(0666 less the umask) before it takes the real name: exports, images and reports are shared — on a
cluster, over HTTP — and a 0600 file is one nobody else can read.
"""

from __future__ import annotations

import ctypes
import errno
import glob
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def write_atomic(path: Path, data: bytes) -> None:
    with open_atomic(path, "wb") as fh:
        fh.write(data)


@contextmanager
def open_atomic(path: Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary sibling of `path`; on success it is fsynced and renamed over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- a folder replaced as a whole (the hf and webdataset exports) ----------------------------------------
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def staging_dir(final: Path) -> Path:
    """A fresh, empty sibling of `final` that only this writer uses (its pid is in the name, so a writer
    never deletes another live writer's files); what dead writers left is cleared first."""
    clear_stale(final)
    path = final.parent / f".{final.name}.staging-{os.getpid()}-{secrets.token_hex(4)}"
    path.mkdir(parents=True)
    return path


def swap_dir(new: Path, final: Path) -> None:
    """Put the complete folder `new` in place of `final`, so that a reader (or a crash) sees the old
    export or the new one, never neither: one atomic exchange where the OS offers it (Linux renameat2),
    else two renames that `clear_stale` undoes if a crash falls between them."""
    if not final.exists():
        os.rename(new, final)
    elif _exchange(new, final):
        shutil.rmtree(new)  # it holds the previous export now
    else:
        old = final.parent / f".{final.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
        os.rename(final, old)
        os.rename(new, final)
        shutil.rmtree(old)
    _fsync_dir(final.parent)


def clear_stale(final: Path) -> None:
    """Undo what a killed writer left: a previous export set aside but not replaced goes back in place;
    staging folders of writers no longer alive are removed (a live writer's never are)."""
    olds = sorted(final.parent.glob(f".{final.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if olds and not final.exists():
        os.rename(olds.pop(), final)
    for path in [*olds, *final.parent.glob(f".{final.name}.staging-*")]:
        if not _writer_alive(path.name):
            shutil.rmtree(path, ignore_errors=True)


def _writer_alive(name: str) -> bool:
    """Whether the writer named in `name` (`…<sep><pid>-<token>`, sep "-" or ".") still runs."""
    try:
        pid = int(re.split(r"[-.]", name.rsplit("-", 1)[0])[-1])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:  # someone else's live process
        return True
    return pid != os.getpid()  # our own leftovers are from an earlier export of this process that failed


def _exchange(a: Path, b: Path) -> bool:
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not Linux / glibc < 2.28
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):  # a filesystem without exchange
        return False
    raise OSError(code, os.strerror(code), str(b))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- several files replaced together (the Pico-Banana files and their .meta.jsonl) ------------------------
class FileSet:
    """Files in one folder that are replaced together. Each is written to its own temporary; `commit`
    fsyncs them all, writes a journal naming them, renames each into place and drops the journal. A
    crash before the journal leaves the previous files; one after it is rolled forward by `recover`
    (run before the next write of the set), so the set is never left half old, half new for good."""

    def __init__(self, folder: Path, tag: str) -> None:
        self.folder, self.journal = Path(folder), Path(folder) / f".{tag}.journal"
        self.folder.mkdir(parents=True, exist_ok=True)
        recover_file_set(self.folder, tag)
        self.files: dict[str, tuple[IO, str]] = {}

    def open(self, name: str) -> IO:
        # The temporary names its writer's pid: what a killed writer left is cleared, a live one's never.
        for stale in self.folder.glob(f".{glob.escape(name)}.*-*.tmp"):
            if not _writer_alive(stale.name.removesuffix(".tmp")):  # .<name>.<pid>-<token>.tmp
                stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.{os.getpid()}-", suffix=".tmp", dir=self.folder)
        os.fchmod(fd, 0o666 & ~current_umask())  # as shareable as any new file, not mkstemp's 0600
        fh = os.fdopen(fd, "w", encoding="utf-8")
        self.files[name] = (fh, tmp)
        return fh

    def commit(self) -> None:
        for fh, _ in self.files.values():
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
        with open_atomic(self.journal) as fh:
            json.dump([[Path(tmp).name, name] for name, (_, tmp) in self.files.items()], fh)
        _roll_forward(self.folder, self.journal)

    def abort(self) -> None:
        for fh, tmp in self.files.values():
            fh.close()
            Path(tmp).unlink(missing_ok=True)


def recover_file_set(folder: Path, tag: str) -> None:
    journal = Path(folder) / f".{tag}.journal"
    if journal.exists():
        _roll_forward(Path(folder), journal)


def _roll_forward(folder: Path, journal: Path) -> None:
    for tmp, name in json.loads(journal.read_text(encoding="utf-8")):
        if (folder / tmp).exists():  # not yet renamed when the crash came
            os.replace(folder / tmp, folder / name)
    _fsync_dir(folder)
    journal.unlink()


def current_umask() -> int:
    """The process's umask, read without changing it where the OS allows (os.umask sets as it reads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: read by setting, then put back at once
    os.umask(mask)
    return mask
