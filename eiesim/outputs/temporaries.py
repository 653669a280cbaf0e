"""Temporaries beside their targets, locked by their writer, and the cleaning of those a killed writer left.

Temporary names contain ``.eiesim-tmp-`` (:data:`TEMP_MARK`) and each temporary is
``flock``-ed by its writer for as long as it exists. A writer killed with SIGKILL therefore
leaves an *unlocked* temporary, which the next write into the same directory removes
(:func:`clean_stale_temps`); a live writer's temporaries are never touched. Temporaries of
eiesim versions before the locked ones are removed once clearly abandoned.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

#: Part of every temporary name (``.<target name>.eiesim-tmp-<random><suffix>``).
TEMP_MARK = ".eiesim-tmp-"

_CLEANED: set[str] = set()
_CLEAN_LOCK = threading.Lock()


def lock_file(fd: int, blocking: bool = True) -> bool:
    """An exclusive ``flock`` on ``fd`` (False: ``blocking`` is off and another process holds it)."""
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            return True  # a file system without locks: no stale-temporary detection there
        raise
    return True


def _temp_prefix(target: Path) -> str:
    return f".{target.name[:80]}{TEMP_MARK}"


def new_temp_file(target: Path, suffix: str) -> tuple[Path, int]:
    """A locked temporary file beside ``target`` (created 0600, locked before anyone can judge it stale)."""
    prefix = _temp_prefix(target)
    while True:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)
        lock_file(fd)
        tmp = Path(name)
        try:
            if os.path.samestat(os.fstat(fd), os.stat(tmp)):
                return tmp, fd
        except FileNotFoundError:
            pass
        os.close(fd)  # a cleaner removed it in the instant before we locked it: make another


def new_temp_dir(target: Path) -> tuple[Path, int]:
    """A locked temporary directory beside ``target`` (locked before anyone can judge it stale)."""
    prefix = _temp_prefix(target)
    while True:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
        fd = os.open(tmp, os.O_RDONLY)
        lock_file(fd)
        try:
            if os.path.samestat(os.fstat(fd), os.stat(tmp)):
                return tmp, fd
        except FileNotFoundError:
            pass
        os.close(fd)


def clean_stale_temps(directory: str | Path, force: bool = False) -> list[Path]:
    """Remove the temporaries that killed eiesim writers left in ``directory``; returns them.

    A temporary is stale when no process holds its lock. Each directory is scanned once
    per process unless ``force``.
    """
    directory = Path(directory)
    key = str(directory.absolute())
    with _CLEAN_LOCK:
        if key in _CLEANED and not force:
            return []
        _CLEANED.add(key)
    try:
        entries = os.listdir(directory)
    except OSError:
        return []
    names = [n for n in entries if TEMP_MARK in n]
    removed = _clean_legacy_temps(directory, entries)
    for name in names:
        path = directory / name
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            if not lock_file(fd, blocking=False):
                continue  # a live writer
            if not os.path.samestat(os.fstat(fd), os.lstat(path)):
                continue
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
            removed.append(path)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


#: Temporaries of eiesim versions before the locked ones (``.report.json.k3j9x_2a.json.tmp.json``):
#: their writers took no lock, so they are removed only once clearly abandoned.
_LEGACY_TEMP = re.compile(r"^\.(.+)\.[a-z0-9_]{8}(\.[A-Za-z0-9]+)?\.tmp(\.[A-Za-z0-9]+)?$")
LEGACY_TEMP_AGE_S = 600.0


def _clean_legacy_temps(directory: Path, entries: list[str]) -> list[Path]:
    removed = []
    now = time.time()
    for name in entries:
        if TEMP_MARK in name or not _LEGACY_TEMP.match(name):
            continue
        path = directory / name
        try:
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime > LEGACY_TEMP_AGE_S:
                os.unlink(path)
                removed.append(path)
        except OSError:
            continue
    return removed


def forget_cleaned_dirs() -> None:
    """Scan every directory for stale temporaries again on its next write (a new command starts)."""
    with _CLEAN_LOCK:
        _CLEANED.clear()


__all__ = ["LEGACY_TEMP_AGE_S", "TEMP_MARK", "clean_stale_temps", "forget_cleaned_dirs", "lock_file", "new_temp_dir",
           "new_temp_file"]
