"""The commit journal of a set of outputs: what makes several renames one transaction.

POSIX renames one name at a time, so a process killed between the renames of a set
(``run --json X`` writes ``X`` and ``X.run.json``) would leave a new file beside an old
one. Before the first rename, :func:`write_journal` stores, durably (fsync'ed, in every
directory the set touches), the list of temporaries and the targets they replace, each
temporary named by its inode. From then on the set *is* committed: the writer renames
every temporary, flushes the directories and removes the journal. A writer killed
before its journal was complete leaves temporaries only (the next write into the
directory removes them: the old set stays); a writer killed after that leaves a
journal that :func:`recover_journals` -- run by every eiesim write into the directory,
before it removes stale temporaries -- rolls forward, renaming what was not yet renamed
(the new set stays). A reader other than eiesim that looks at the directory between the
kill and the next eiesim write can see the half-renamed set; that is the one window left.

A journal is locked (``flock``) by its writer while it lives, so a live commit's journal
is never rolled forward by another process.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from eiesim.outputs.temporaries import lock_file

JOURNAL_PREFIX = ".eiesim-journal-"
JOURNAL_FORMAT = "eiesim-commit-journal"


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # some file systems cannot sync a directory
            os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """A written journal (one copy per directory of the set), held locked until :meth:`close`."""

    def __init__(self, copies: list[tuple[Path, int]]) -> None:
        self._copies = copies

    def close(self) -> None:
        """The set is in place and flushed: remove every copy of the journal."""
        for path, fd in self._copies:
            with contextlib.suppress(OSError):
                os.unlink(path)
            with contextlib.suppress(OSError):
                _sync(path.parent)
            os.close(fd)
        self._copies = []


def write_journal(entries: Sequence[tuple[Path, Path]]) -> Journal:
    """Durably record ``(temporary, target)`` pairs, in every directory they are in, before any rename."""
    records = []
    for tmp, target in entries:
        st = os.lstat(tmp)
        records.append({"tmp": str(Path(tmp).absolute()), "target": str(Path(target).absolute()),
                        "dev": st.st_dev, "ino": st.st_ino, "dir": os.path.isdir(tmp)})
    text = json.dumps({"format": JOURNAL_FORMAT, "entries": records, "complete": True})
    copies: list[tuple[Path, int]] = []
    try:
        for directory in sorted({str(Path(target).absolute().parent) for _, target in entries}):
            fd, name = tempfile.mkstemp(prefix=JOURNAL_PREFIX, suffix=".json", dir=directory)
            copies.append((Path(name), fd))
            lock_file(fd)
            os.write(fd, text.encode())
            os.fsync(fd)
            _sync(Path(directory))
    except BaseException:
        Journal(copies).close()
        raise
    return Journal(copies)


def _is(path: str, dev: int, ino: int) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


def _roll_forward(entry: dict, put_in_place: Callable[[Path, Path, bool], None]) -> None:
    tmp, target, dev, ino = entry["tmp"], entry["target"], entry["dev"], entry["ino"]
    if _is(target, dev, ino):  # already renamed; after a directory exchange tmp holds the old version
        if os.path.lexists(tmp) and not _is(tmp, dev, ino):
            shutil.rmtree(tmp, ignore_errors=True) if entry.get("dir") else os.unlink(tmp)
        return
    if _is(tmp, dev, ino):
        put_in_place(Path(tmp), Path(target), bool(entry.get("dir")))


def recover_journals(directory: str | Path, put_in_place: Callable[[Path, Path, bool], None]) -> list[Path]:
    """Finish the commits that killed writers journaled in ``directory``; returns the journals handled.

    A journal that is not complete JSON was being written when its writer died: nothing of
    that set was renamed yet, so it is removed and its temporaries are left to the cleaner.
    """
    directory = Path(directory)
    try:
        names = [n for n in os.listdir(directory) if n.startswith(JOURNAL_PREFIX)]
    except OSError:
        return []
    handled = []
    for name in sorted(names):
        path = directory / name
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            if not lock_file(fd, blocking=False):
                continue  # a live writer's
            try:
                data = json.loads(os.read(fd, 1 << 24).decode())
                entries = data["entries"] if data.get("format") == JOURNAL_FORMAT and data.get("complete") else None
            except (ValueError, KeyError, AttributeError, TypeError):
                entries = None
            for entry in entries or []:
                with contextlib.suppress(OSError, KeyError, TypeError):
                    _roll_forward(entry, put_in_place)
            for parent in {str(Path(e["target"]).parent) for e in entries or []
                           if isinstance(e, dict) and isinstance(e.get("target"), str)}:
                with contextlib.suppress(OSError):
                    _sync(Path(parent))
            with contextlib.suppress(OSError):
                os.unlink(path)
            handled.append(path)
        finally:
            os.close(fd)
    return handled


__all__ = ["JOURNAL_PREFIX", "Journal", "recover_journals", "write_journal"]
