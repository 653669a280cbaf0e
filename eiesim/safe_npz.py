"""Reading .npz archives without trusting them.

``numpy.load`` allocates an array from the shape its header declares before it
reads the data, so a 1-KB file claiming 10^9 entries would allocate gigabytes.
Here every member's header is parsed first and checked against the member's
real size in the zip directory and against sane bounds; only then is the array
read, always with ``allow_pickle=False``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from eiesim.errors import WorkloadError

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


def _read_members(zf: zipfile.ZipFile, path: Path, error: type[Exception]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for info in zf.infolist():
        name = info.filename
        key = name[:-4] if name.endswith(".npy") else name
        if info.file_size > MAX_MEMBER_BYTES:
            raise error(f"member {key!r} declares {info.file_size} bytes, above the {MAX_MEMBER_BYTES}-byte limit", path)
        if info.compress_type != zipfile.ZIP_STORED and info.compress_size > 0:
            if info.file_size / info.compress_size > MAX_COMPRESSION_RATIO and info.file_size > RATIO_CHECK_BYTES:
                raise error(f"member {key!r} expands {info.file_size // info.compress_size}x when decompressed; refusing it", path)
        try:
            with zf.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                else:
                    raise ValueError(f"unsupported .npy version {version}")
                if dtype.hasobject:
                    raise error(f"member {key!r} holds Python objects (pickled data); eiesim never loads pickles", path)
                count = int(np.prod(shape, dtype=np.int64)) if shape else 1
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
