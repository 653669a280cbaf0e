"""Opening input files without trusting what they are: regular files only, read with a byte limit.

A size check that trusts ``st_size`` is no check for special files: a device (``/dev/zero``)
or a FIFO reports 0 bytes, then reads without end, and a FIFO with no writer blocks a plain
``open`` forever. Every input file of eiesim is therefore opened here first: without blocking
(``O_NONBLOCK``), then ``fstat``-ed, and refused unless it is a regular file (a symbolic link
is followed to what it names, and that must be a regular file). :func:`read_bytes_bounded`
also counts the bytes while reading, so a file that grows past the limit is cut off.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from eiesim.errors import EiesimError


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, in a few words, from its ``st_mode``: for the one-line refusals of
    both the input readers here and the output writers (eiesim.outputs.paths)."""
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device node"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def open_regular(path: str | Path, error: type[EiesimError] = EiesimError, what: str = "file") -> int:
    """A blocking read-only descriptor of the regular file ``path`` (the caller closes it);
    ``error(message, path)`` if it is missing, a directory, a device, FIFO or socket, or unreadable."""
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"no such {what}", path) from None
    except IsADirectoryError:
        raise error(f"is a directory, not a {what}", path) from None
    except OSError as exc:
        raise error(f"cannot read ({exc.strerror or exc.__class__.__name__})", path) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise error(f"is a directory, not a {what}", path)
        if not stat.S_ISREG(mode):
            raise error(f"is {file_kind(mode)}, not a regular file; the {what} must be a regular file", path)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def require_regular_file(path: str | Path, error: type[EiesimError] = EiesimError, what: str = "file") -> Path:
    """``path`` if it names a readable regular file (see :func:`open_regular`); for readers that open it themselves."""
    os.close(open_regular(path, error, what))
    return Path(path)


def read_bytes_bounded(path: str | Path, max_bytes: int, error: type[EiesimError] = EiesimError,
                       what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them.

    The file is opened without blocking (a FIFO with no writer would hang a plain open) and
    refused unless ``fstat`` says it is a regular file: devices (``/dev/zero``), FIFOs and
    sockets are not inputs, whatever a symbolic link to them is called. The limit is checked
    while reading, not trusted from ``st_size``, so a file that grows is cut off too.
    ``error(message, path)`` for every problem.
    """
    fd = open_regular(path, error, what)
    try:
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise error(f"{what} is larger than the {max_bytes:,} bytes accepted", path)
    except OSError as exc:
        raise error(f"cannot read ({exc.strerror or exc.__class__.__name__})", path) from None
    finally:
        os.close(fd)
    return b"".join(chunks)



__all__ = ["open_regular", "read_bytes_bounded", "require_regular_file"]
