"""Output paths checked before any work: a command refuses a path it could not write, before it starts.

:func:`check_output_file` and :func:`check_output_dir` are the preflight checks the CLI
runs on every output path before any long work; :func:`check_not_input` refuses an output
that is one of the command's inputs. Every OS error becomes an ``OutputError`` naming the
path (:func:`os_problem` says what went wrong in a few words).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Collection
from pathlib import Path

from eiesim.errors import OutputError
from eiesim.outputs.temporaries import TEMP_MARK


def os_problem(exc: OSError) -> str:
    """A short description of an OS error ('no space left on device', 'permission denied', ...)."""
    if exc.errno == errno.ENOSPC:
        return "no space left on device"
    if exc.errno == errno.EDQUOT:
        return "disk quota exceeded"
    if exc.errno == errno.EFBIG:
        return "file too large for this file system or the process's file-size limit"
    text = exc.strerror or " ".join(str(exc).split()) or exc.__class__.__name__
    return text[:1].lower() + text[1:]


def output_error(exc: OSError, target: Path, what: str = "cannot write", outcome: str = "nothing was written there"
                 ) -> OutputError:
    """The OutputError for ``exc`` at ``target``: what failed, why, and what became of the output."""
    return OutputError(f"{what} ({os_problem(exc)}); {outcome}", target)


def nearest_existing(directory: Path, target: Path) -> Path:
    """``directory`` itself or its nearest existing ancestor; OutputError (naming ``target``) if that is a file."""
    probe = directory.absolute()
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"cannot create it: {probe} is a file, not a directory", target)
    return probe


def _check_writable_dir(directory: Path, target: Path) -> None:
    """``directory`` (existing) must accept new files."""
    st = None
    if hasattr(os, "statvfs"):
        try:
            st = os.statvfs(directory)
        except OSError as exc:
            raise output_error(exc, target, "cannot check the output location") from None
    if st is not None and st.f_flag & os.ST_RDONLY:
        raise OutputError(f"cannot write in {directory}: read-only file system", target)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write in {directory}: permission denied", target)
    if st is not None and st.f_bavail * st.f_frsize < 4096:
        raise OutputError(f"cannot write in {directory}: no space left on device", target)


def check_output_file(path: str | Path) -> Path:
    """Preflight of an output file: it can be created or replaced. Raises OutputError, creates nothing."""
    path = Path(path)
    if path.is_dir():
        raise OutputError("is a directory; give a file name", path)
    if str(path).endswith(os.sep) or path.name in ("", ".", ".."):
        raise OutputError("expected a file name", path)
    _check_writable_dir(nearest_existing(path.parent, path), path)
    return path


def check_output_dir(path: str | Path, allowed: Collection[str] | Callable[[str], bool] | None = None) -> Path:
    """Preflight of an output directory that will be replaced as a whole (or, with ``allowed=None``,
    added to). ``allowed``: the names this kind of output writes; an existing directory holding
    anything else is refused, because replacing it would delete those files."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError("is a file, not a directory", path)
    if path.is_dir():
        if allowed is not None:
            ok = allowed if callable(allowed) else (lambda name, names=frozenset(allowed): name in names)
            try:
                foreign = sorted(n for n in os.listdir(path) if TEMP_MARK not in n and not ok(n))
            except OSError as exc:
                raise output_error(exc, path, "cannot read the directory") from None
            if foreign:
                shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
                raise OutputError(f"holds files eiesim did not write here ({shown}); the output replaces the whole "
                                  "directory, so choose a new or empty directory", path)
            _check_writable_dir(path.absolute().parent, path)
        else:
            _check_writable_dir(path, path)
    else:
        _check_writable_dir(nearest_existing(path.parent, path), path)
    return path


def check_not_input(output: str | Path, inputs: Collection[str | Path], what: str = "input") -> None:
    """Refuse an output that is one of the files the command reads (same path or same file)."""
    out = Path(output)
    for item in inputs:
        item = Path(item)
        same = out.absolute() == item.absolute()
        if not same and out.exists() and item.exists():
            with contextlib.suppress(OSError):
                same = os.path.samefile(out, item)
        if same:
            raise OutputError(f"this is the {what} {item}; writing the output there would destroy it, "
                              "choose another -o", output)


__all__ = ["check_not_input", "check_output_dir", "check_output_file", "nearest_existing", "os_problem", "output_error"]
