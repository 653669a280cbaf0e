"""Outputs that are complete or absent: the one output-transaction mechanism of eiesim.

* **Single files** (``atomic_path``, ``atomic_open``, ``write_text``): written to a
  temporary file beside the target, then renamed onto it. A replaced file keeps its
  permission bits.
* **Sets of outputs** (:class:`OutputSet`: ``run --json`` and its ``.run.json``, ``run
  --out DIR``, a sweep's two tables): every file is written to temporaries first (so a
  full disk or a bad path fails before anything is replaced), then all are renamed in
  one commit, under a lock on their directory so that concurrent eiesim processes
  commit one after the other, with SIGINT/SIGTERM held back until the commit is over.
  A set of more than one output is journaled first (``eiesim.outputs.journal``): a
  process killed (SIGKILL) between two renames leaves a journal that the next eiesim
  write into that directory rolls forward, so the set is the old one or the new one,
  never a mix.
* **Durability**: every temporary is fsync'ed before it is renamed and its directory
  after, so a power cut cannot leave a completed rename in front of an empty file.
* **Output directories** (``run --out DIR``, ``reproduce eie-figures --out DIR``): the
  whole directory is built as a temporary directory and swapped into place in one
  ``renameat2(RENAME_EXCHANGE)`` (two renames where the file system cannot exchange),
  so DIR always holds exactly one run's files. A directory is replaced only if it is
  empty or holds nothing but files this kind of output writes; anything else is
  refused before work starts (``eiesim.outputs.paths.check_output_dir``).

The temporaries are ``eiesim.outputs.temporaries``' (locked by their writer, so a killed
writer's are cleaned later). :func:`committed_outputs` lists what this process has
completely written, so an interrupted command can say truthfully what it kept.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import signal
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from eiesim.errors import OutputError
from eiesim.outputs.journal import recover_journals, write_journal
from eiesim.outputs.paths import check_replaceable, nearest_existing, os_problem, output_error
from eiesim.outputs.temporaries import (
    TEMP_MARK,
    clean_stale_temps,
    forget_cleaned_dirs,
    lock_file,
    new_temp_dir,
    new_temp_file,
)

_COMMITTED: list[Path] = []


def _fsync_path(path: Path) -> None:
    """Flush ``path`` (a file, or a directory's entries) to stable storage.

    Before a rename, the temporary's data; after it, the directory holding the new name --
    so a power cut never leaves a completed rename in front of an empty file.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EROFS, errno.EBADF):  # file systems that cannot sync a directory
            raise
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    """Flush a finished temporary: a file, or a directory with every file in it and the directory itself."""
    if path.is_dir() and not path.is_symlink():
        for entry in os.listdir(path):
            if (path / entry).is_file():
                _fsync_path(path / entry)
    _fsync_path(path)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back while a commit renames files; deliver them afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if handler is None:
            continue
        old[sig] = handler
        signal.signal(sig, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if pending:
            first = pending[0]
            handler = old.get(signal.Signals(first))
            if callable(handler):
                handler(first, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(sig)


@contextlib.contextmanager
def _directory_locked(directory: Path) -> Iterator[None]:
    """An exclusive flock on ``directory`` itself (no lock file is left behind)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        lock_file(fd)
        yield
    finally:
        os.close(fd)


def _umask_bits() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _default_mode() -> int:
    return 0o666 & ~_umask_bits()


def _mode_for(target: Path, default: int | None = None) -> int:
    """The permission bits a new version of ``target`` gets: the old file's, else the usual ones."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return _default_mode() if default is None else default


def _prepare_parent(target: Path) -> None:
    nearest_existing(target.parent, target)
    check_replaceable(target)  # a device node, FIFO or socket at the target is never renamed over
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, target, "cannot create its directory") from None
    recover_journals(target.parent, _commit_entry)  # first: a killed commit's temporaries are its new set
    clean_stale_temps(target.parent)


def committed_outputs() -> list[Path]:
    """Every output this process has completely written so far, in order."""
    return list(_COMMITTED)


def reset_committed_outputs() -> None:
    """Start afresh (the CLI does this at the start of each command): forget the record of written
    outputs and which directories were already cleaned of stale temporaries."""
    _COMMITTED.clear()
    forget_cleaned_dirs()


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto ``target`` on success.

    ``suffix`` defaults to the target's own suffix (numpy's ``savez`` appends ``.npz``
    to names without it, so the temporary name must keep it). OS errors (full disk,
    read-only file system, ...) raise OutputError; the temporary is always removed.
    """
    target = Path(target)
    _prepare_parent(target)
    try:
        tmp, fd = new_temp_file(target, target.suffix if suffix is None else suffix)
    except OSError as exc:
        raise output_error(exc, target) from None
    try:
        try:
            yield tmp
            os.chmod(tmp, _mode_for(target))
            _fsync_path(tmp)
            with _signals_deferred():
                os.replace(tmp, target)
                _fsync_path(target.parent)
                _COMMITTED.append(target)
        except OSError as exc:
            raise output_error(exc, target) from None
    finally:
        with contextlib.suppress(OSError):
            if os.path.samestat(os.fstat(fd), os.stat(tmp)):
                os.unlink(tmp)
        os.close(fd)


@contextlib.contextmanager
def atomic_open(target: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file for writing; it replaces ``target`` only if the block succeeds."""
    if "b" in mode:
        encoding = None
    with atomic_path(target) as tmp:
        try:
            with open(tmp, mode, encoding=encoding) as fh:
                yield fh
        except OSError as exc:
            raise output_error(exc, Path(target)) from None


def write_text(target: str | Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically."""
    with atomic_open(target, "w") as fh:
        fh.write(text)


def _rename_exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one system call (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


_NONE = "no output was written"


class OutputSet:
    """Several outputs committed together: files and whole directories, all or (as far as possible) none.

    ``add_file(path, data)`` and ``add_dir(path, {name: data}, allowed)`` only record what
    to write; ``commit()`` writes every temporary, then renames them all under a lock
    with interrupts held back, and returns the paths written. If writing a temporary
    fails (full disk, read-only file system) nothing is replaced.
    """

    def __init__(self) -> None:
        self._files: list[tuple[Path, str | bytes]] = []
        self._dirs: list[tuple[Path, dict[str, str | bytes]]] = []

    def add_file(self, path: str | Path, data: str | bytes) -> None:
        self._files.append((Path(path), data))

    def add_dir(self, path: str | Path, files: dict[str, str | bytes]) -> None:
        self._dirs.append((_real_dir(Path(path)), dict(files)))

    @property
    def targets(self) -> list[Path]:
        return [p for p, _ in self._files] + [p for p, _ in self._dirs]

    def commit(self) -> list[Path]:
        staged: list[tuple[Path, Path, int, bool]] = []  # (tmp, target, lock fd, is_dir)
        try:
            for target, data in self._files:
                _prepare_parent(target)
                try:
                    tmp, fd = new_temp_file(target, target.suffix)
                except OSError as exc:
                    raise output_error(exc, target, outcome=_NONE) from None
                staged.append((tmp, target, fd, False))
                try:
                    _write(tmp, data)
                    os.chmod(tmp, _mode_for(target))
                except OSError as exc:
                    raise output_error(exc, target, outcome=_NONE) from None
            for target, files in self._dirs:
                _prepare_parent(target)
                try:
                    tmp, fd = new_temp_dir(target)
                except OSError as exc:
                    raise output_error(exc, target, outcome=_NONE) from None
                staged.append((tmp, target, fd, True))
                try:
                    for name, data in files.items():
                        _write(tmp / name, data)
                        os.chmod(tmp / name, _mode_for(target / name))
                    os.chmod(tmp, _mode_for(target, 0o777 & ~_umask_bits()))
                except OSError as exc:
                    raise output_error(exc, target / name if files else target, outcome=_NONE) from None
            for tmp, _, _, _ in staged:
                try:
                    _fsync_tree(tmp)
                except OSError as exc:
                    raise output_error(exc, tmp, outcome=_NONE) from None
            done: list[Path] = []
            parents = sorted({str(target.absolute().parent) for _, target, _, _ in staged})
            with _signals_deferred(), contextlib.ExitStack() as locks:
                for parent in parents:
                    locks.enter_context(_directory_locked(Path(parent)))
                journal = None
                if len(staged) > 1:
                    try:
                        journal = write_journal([(tmp, target) for tmp, target, _, _ in staged])
                    except OSError as exc:
                        raise output_error(exc, staged[0][1], outcome=_NONE) from None
                for tmp, target, _, is_dir in staged:
                    try:
                        _commit_entry(tmp, target, is_dir)
                    except OSError as exc:
                        kept = f"; already written: {', '.join(map(str, done))}" if done else ""
                        if journal is not None:  # a rename the system refuses: the set cannot be completed
                            journal.close()
                        raise OutputError(f"cannot write ({os_problem(exc)}){kept}", target) from None
                    done.append(target)
                    _COMMITTED.append(target)
                try:
                    for parent in parents:
                        _fsync_path(Path(parent))
                except OSError as exc:
                    raise OutputError(f"cannot flush the directory ({os_problem(exc)})", Path(parent)) from None
                if journal is not None:
                    journal.close()
            return done
        finally:
            for tmp, _, fd, is_dir in staged:
                with contextlib.suppress(OSError):
                    if os.path.lexists(tmp) and os.path.samestat(os.fstat(fd), os.lstat(tmp)):
                        shutil.rmtree(tmp, ignore_errors=True) if is_dir else os.unlink(tmp)
                os.close(fd)


def _commit_entry(tmp: Path, target: Path, is_dir: bool) -> None:
    """Put one finished temporary of a set in place (its own function: the fault tests stop the process here)."""
    if is_dir:
        _swap_dir(tmp, target)
    else:
        os.replace(tmp, target)


def _write(path: Path, data: str | bytes) -> None:
    if isinstance(data, str):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(data)
    else:
        with open(path, "wb") as fh:
            fh.write(data)


def _real_dir(path: Path) -> Path:
    """A symlink to a directory is kept: the directory it points to is the one replaced."""
    return Path(os.path.realpath(path)) if path.is_symlink() and path.is_dir() else path


def _swap_dir(tmp: Path, target: Path) -> None:
    """Put the finished directory ``tmp`` at ``target``, replacing what was there in one step when possible."""
    if not os.path.lexists(target):
        os.rename(tmp, target)
        return
    if not target.is_dir() or target.is_symlink():
        raise OSError(errno.ENOTDIR, "exists and is not a directory", str(target))
    if _rename_exchange(tmp, target):  # tmp now holds the previous version
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = target.parent / f".{target.name[:80]}{TEMP_MARK}old-{os.getpid()}"
    os.rename(target, old)  # from here until the next rename the directory is absent, never mixed
    os.rename(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a temporary directory to fill; on success it replaces ``target`` as a whole.

    Check the target first with :func:`check_output_dir` (the caller knows which names
    its output writes).
    """
    target = _real_dir(Path(target))
    _prepare_parent(target)
    try:
        tmp, fd = new_temp_dir(target)
    except OSError as exc:
        raise output_error(exc, target) from None
    try:
        try:
            yield tmp
            for entry in os.listdir(tmp):
                with contextlib.suppress(OSError):
                    os.chmod(tmp / entry, _mode_for(target / entry, stat.S_IMODE(os.stat(tmp / entry).st_mode)))
            os.chmod(tmp, _mode_for(target, 0o777 & ~_umask_bits()))
            _fsync_tree(tmp)
            with _signals_deferred(), _directory_locked(target.absolute().parent):
                _swap_dir(tmp, target)
                _fsync_path(target.parent)
                _COMMITTED.append(target)
        except OSError as exc:
            raise output_error(exc, target) from None
    finally:
        with contextlib.suppress(OSError):
            if os.path.lexists(tmp) and os.path.samestat(os.fstat(fd), os.lstat(tmp)):
                shutil.rmtree(tmp, ignore_errors=True)
        os.close(fd)


__all__ = ["OutputSet", "atomic_directory", "atomic_open", "atomic_path", "committed_outputs",
           "reset_committed_outputs", "write_text"]
