"""Output paths checked before any work: a command refuses a path it could not write, before it starts.

:func:`check_output_file` and :func:`check_output_dir` are the preflight checks the CLI
runs on every output path before any long work; :func:`check_not_input` refuses an output
that is one of the command's inputs. Every OS error becomes an ``OutputError`` naming the
path (:func:`os_problem` says what went wrong in a few words).

The rules (the README's "Commands" section states them for users):

* An output file is written to a temporary beside it and renamed over it, so whatever is at
  the path is *replaced*. That is only allowed for a regular file: a device node, FIFO or
  socket at the path is refused (renaming over ``/dev/full`` would destroy the node), and so
  is ``-`` (these outputs are files; eiesim does not write them to standard output).
* A symbolic link at an output path is allowed only when it points to a regular file; the
  link is then replaced by the new file and the file it pointed to is left unchanged. A link
  to anything else (``/dev/stdout``, a dangling link) is refused.
* An output is never one of the command's inputs: same path, same file through a symbolic
  link or a hard link (compared by device and inode), or, for an output directory, a
  directory holding an input. ``eiesim.cli.outputs`` runs this check for every command.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Collection
from pathlib import Path

from eiesim.errors import OutputError
from eiesim.inputs.files import file_kind
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


def check_replaceable(path: str | Path) -> None:
    """Refuse an existing output path that is not a regular file (or a symlink to one): see the module rules."""
    path = Path(path)
    if str(path) == "-":
        raise OutputError("'-' (standard output) is not supported for this output; give a file name", path)
    try:
        link = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise output_error(exc, path, "cannot check the output path") from None
    if stat.S_ISREG(link.st_mode):
        return
    if stat.S_ISLNK(link.st_mode):
        try:
            st = os.stat(path)
        except OSError:
            raise OutputError("is a symbolic link that points nowhere; eiesim would replace the link, remove it "
                              "or give another path", path) from None
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
            raise OutputError(f"is a symbolic link to {file_kind(st.st_mode)} ({os.path.realpath(path)}); eiesim writes "
                              "regular files only and would replace the link, give another path", path)
        return
    if stat.S_ISDIR(link.st_mode):
        return
    raise OutputError(f"is {file_kind(link.st_mode)}; eiesim writes regular files only and would replace it, "
                      "give another path", path)


def check_output_file(path: str | Path) -> Path:
    """Preflight of an output file: it can be created or replaced. Raises OutputError, creates nothing."""
    path = Path(path)
    check_replaceable(path)
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
    if str(path) == "-":
        raise OutputError("'-' (standard output) cannot be an output directory; give a directory name", path)
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


def _identity(path: Path) -> tuple[int, int] | None:
    """(st_dev, st_ino) of the file ``path`` names (symlinks followed); None if it does not exist."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def check_not_input(output: str | Path, inputs: Collection[str | Path], what: str = "input",
                    option: str = "-o") -> None:
    """Refuse an output file that is one of the files the command reads: the same path, the same
    resolved path, or the same file by device and inode (a hard link)."""
    out = Path(output)
    out_id = _identity(out)
    for item in inputs:
        item = Path(item)
        same = out.absolute() == item.absolute() or os.path.realpath(out) == os.path.realpath(item)
        if not same and out_id is not None:
            same = out_id == _identity(item)
        if same:
            raise OutputError(f"this is the {what} {item}; writing the output there would destroy it, "
                              f"choose another {option}", output)


def check_dir_holds_no_input(directory: str | Path, inputs: Collection[str | Path], what: str = "input",
                             option: str = "--out") -> None:
    """Refuse an output directory (replaced as a whole) that is, or holds, one of the command's inputs."""
    root = os.path.realpath(directory)
    root_id = _identity(Path(directory))
    for item in inputs:
        real = os.path.realpath(item)
        inside = real == root or real.startswith(root.rstrip(os.sep) + os.sep)
        if not inside and root_id is not None:
            inside = _identity(Path(item)) == root_id
        if inside:
            raise OutputError(f"holds the {what} {item}; the output replaces the whole directory, which would "
                              f"destroy it, choose another {option}", directory)


__all__ = ["check_dir_holds_no_input", "check_not_input", "check_output_dir", "check_output_file", "check_replaceable", "nearest_existing", "os_problem", "output_error"]
