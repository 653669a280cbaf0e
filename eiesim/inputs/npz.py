"""Reading .npz archives without trusting them.

``numpy.load`` allocates an array from the shape its header declares before it
reads the data, so a 1-KB file claiming 10^9 entries would allocate gigabytes.
Here every member's header is parsed first and checked against the member's
real size in the zip directory and against sane bounds; only then is the array
read, always with ``allow_pickle=False``. The archive as a whole is checked first: its
total decompressed size against the memory limit (``eiesim.inputs.memory``) and its overall
compression ratio, so many members each just under the per-member zip-bomb guard are
refused as well.

``read_npy`` reads a single ``.npy`` file the same way.
"""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

import numpy as np

from eiesim.errors import EiesimError, InputDataError, WorkloadError
from eiesim.inputs.memory import check_memory

#: Largest uncompressed member accepted (bytes); far above any real layer.
MAX_MEMBER_BYTES = 2 * 1024**3
#: Largest compression ratio accepted for a large compressed member (zip-bomb guard) ...
MAX_COMPRESSION_RATIO = 200
#: ... applied to members above this uncompressed size (small constant arrays compress
#: legitimately by ~1000x, e.g. a layer whose weights all share one value).
RATIO_CHECK_BYTES = 32 << 20


def read_npz(path: str | Path, error: type[Exception] = WorkloadError) -> dict[str, np.ndarray]:
    """Read every member of an .npz archive into a dict, refusing anything suspicious.

    Raises ``error(message, path)`` for files that are not zip archives, members that
    are not .npy arrays, object (pickled) arrays, declared sizes that disagree with the
    content, or absurd sizes.
    """
    path = Path(path)
    if not path.is_file():
        raise error("no such file", path)
    try:
        zf = zipfile.ZipFile(path)
    except Exception as exc:  # untrusted bytes: any failure of the zip parser means "not an npz"
        raise error(f"not a readable .npz archive ({exc.__class__.__name__}: {exc})", path) from None
    try:
        with zf:
            return _read_members(zf, path, error)
    except error:
        raise
    except Exception as exc:  # e.g. unsupported compression method, corrupt directory
        raise error(f"not a readable .npz archive ({exc.__class__.__name__}: {exc})", path) from None


def _check_totals(infos: list[zipfile.ZipInfo], path: Path, error: type[Exception]) -> None:
    """The whole archive, before any member is read: its decompressed size and its compression ratio."""
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos if i.compress_type != zipfile.ZIP_STORED)
    if packed and total > RATIO_CHECK_BYTES and total / max(packed, 1) > MAX_COMPRESSION_RATIO:
        raise error(f"the archive expands {total // max(packed, 1)}x when decompressed ({len(infos)} members, "
                    f"{total:,} bytes from {packed:,}); refusing it", path)
    check_memory(total, f"reading its {len(infos)} members ({total:,} bytes decompressed)", path,
                 error if issubclass(error, EiesimError) else WorkloadError)


def _read_header(fh, key: str, path: Path, error: type[Exception]) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) of one .npy member: the header numpy writes, parsed directly;
    anything else by numpy's own (slower, ast-based) header reader."""
    start = fh.read(10)
    if len(start) == 10 and start[:6] == b"\x93NUMPY" and start[6] in (1, 2):
        if start[6] == 1:
            length = int.from_bytes(start[8:10], "little")
        else:
            length = int.from_bytes(start[8:10] + fh.read(2), "little")
        header = fh.read(length)
        m = _HEADER.fullmatch(header) if len(header) == length else None
        if m is not None:
            dtype = np.dtype(m.group(1).decode("ascii"))
            shape = tuple(int(v) for v in m.group(3).split(b",") if v.strip())
            return shape, m.group(2) == b"True", dtype
        fh.seek(0)
    else:
        fh.seek(0)
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(fh)
    raise ValueError(f"unsupported .npy version {version}")


#: The header ``numpy.lib.format`` writes for plain dtypes: {'descr': ..., 'fortran_order': ..., 'shape': (...), }
_HEADER = re.compile(rb"\{'descr': '([<>|=]?[a-zA-Z][a-zA-Z0-9]*)', 'fortran_order': (True|False), "
                     rb"'shape': \(((?: *\d+ *,)*(?: *\d+ *)?)\), *\} *\n")


def _read_members(zf: zipfile.ZipFile, path: Path, error: type[Exception]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    infos = zf.infolist()
    _check_totals(infos, path, error)
    for info in infos:
        name = info.filename
        key = name[:-4] if name.endswith(".npy") else name
        if info.file_size > MAX_MEMBER_BYTES:
            raise error(f"member {key!r} declares {info.file_size} bytes, above the {MAX_MEMBER_BYTES}-byte limit", path)
        if info.compress_type != zipfile.ZIP_STORED and info.compress_size > 0:
            if info.file_size / info.compress_size > MAX_COMPRESSION_RATIO and info.file_size > RATIO_CHECK_BYTES:
                raise error(f"member {key!r} expands {info.file_size // info.compress_size}x when decompressed; refusing it", path)
        try:
            with zf.open(info) as fh:
                shape, fortran, dtype = _read_header(fh, key, path, error)
                if dtype.hasobject:
                    raise error(f"member {key!r} holds Python objects (pickled data); eiesim never loads pickles", path)
                count = math.prod(shape) if shape else 1
                header_len = fh.tell()
                expected = header_len + count * dtype.itemsize
                if count < 0 or expected != info.file_size:
                    raise error(
                        f"member {key!r} declares shape {tuple(shape)} of {dtype} "
                        f"({count * dtype.itemsize} bytes) but holds {info.file_size - header_len} bytes",
                        path,
                    )
                data = fh.read(count * dtype.itemsize)
        except error:
            raise
        except Exception as exc:  # untrusted bytes: any parser failure is a malformed member
            raise error(f"member {key!r} is not a valid .npy array ({exc})", path) from None
        if len(data) != count * dtype.itemsize:
            raise error(f"member {key!r} is truncated", path)
        arr = np.frombuffer(data, dtype=dtype, count=count)
        arr = arr.reshape(shape, order="F" if fortran else "C")
        out[key] = arr.copy() if not arr.flags.writeable else arr
    if len(out) != len(zf.infolist()):
        raise error("archive holds two members with the same name", path)
    return out


def read_npy(path: str | Path, error: type[EiesimError] = InputDataError) -> np.ndarray:
    """A ``.npy`` file, its header checked against its size and the memory limit before reading."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            shape, fortran, dtype = _read_header(fh, "array", path, error)
            if dtype.hasobject:
                raise error("holds Python objects (pickled data); eiesim never loads pickles", path)
            count = math.prod(shape) if shape else 1
            nbytes = count * dtype.itemsize
            if count < 0 or fh.tell() + nbytes != size:
                raise error(f"declares shape {tuple(shape)} of {dtype} ({nbytes} bytes) but holds "
                            f"{size - fh.tell()} bytes", path)
            check_memory(nbytes, f"an array of shape {tuple(shape)}", path, error)
            data = fh.read(nbytes)
    except EiesimError:
        raise
    except OSError as exc:
        raise error(f"cannot read ({exc.strerror or exc})", path) from None
    except Exception as exc:  # untrusted bytes: any header parser failure
        raise error(f"not a valid .npy array ({exc})", path) from None
    arr = np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")
    return arr.copy()
