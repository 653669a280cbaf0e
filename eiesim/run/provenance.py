"""Content digests: what a stored result depends on, so that a changed input is never mistaken for an old one.

* ``model_digest()``: SHA-256 over the simulator's own model sources, i.e. every module that
  can change a number (engines, encoding, fixed point, cost model and its data), not the
  CLI or the report renderers. A sweep keys its points by it, so that editing the model
  (or installing another eiesim) recomputes the points instead of reusing stale ones,
  even when ``__version__`` did not change.
* ``file_digest(path)``: SHA-256 of a file's bytes.
* ``array_digest(x)``: SHA-256 of an array's dtype, shape and bytes (e.g. a preprocessed
  image: a new photo at the same path gives a new digest).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np

#: The eiesim package directory (this module lives in its ``run/`` folder).
PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: Package folders that cannot change a simulated number: the command line, the report
#: renderers, the paper-reproduction scripts (which call the model but are not part of it),
#: and the deprecated old module paths (aliases of modules counted under their new paths).
PRESENTATION_PACKAGES = ("cli", "render", "reproduce", "_deprecated")
#: Files, besides Python modules, that the model reads.
MODEL_DATA_SUFFIXES = (".csv", ".yaml", ".json")


def model_sources(package_dir: Path | None = None) -> list[Path]:
    """The files ``model_digest`` covers, in a fixed order (paths relative to the package)."""
    root = package_dir or PACKAGE_DIR
    files = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if not path.is_file() or "__pycache__" in rel.parts or rel.parts[0] in PRESENTATION_PACKAGES:
            continue
        if path.suffix == ".py" or (len(rel.parts) == 2 and rel.parts[0] == "data" and path.suffix in MODEL_DATA_SUFFIXES):
            files.append(rel)
    return sorted(files, key=lambda p: p.as_posix())


@lru_cache(maxsize=1)
def model_digest() -> str:
    """SHA-256 (hex) of the model sources: relative path and bytes of each, in order."""
    root = PACKAGE_DIR
    h = hashlib.sha256()
    for rel in model_sources(root):
        h.update(rel.as_posix().encode() + b"\0")
        h.update((root / rel).read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def file_digest(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def array_digest(x: np.ndarray | None) -> str:
    """SHA-256 (hex) of an array's dtype, shape and values (``None``: the digest of nothing)."""
    h = hashlib.sha256()
    if x is not None:
        arr = np.ascontiguousarray(x)
        h.update(f"{arr.dtype.str}{list(arr.shape)}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()
