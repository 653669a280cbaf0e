"""The sweep result store: one verified file per finished point, claims so that sweeps share work.

``DIR/points/<key>.json`` holds one finished point::

    {"format": "eiesim-sweep-point", "version": 1, "key": KEY, "row": {...}, "sha256": DIGEST}

where DIGEST is the SHA-256 of the canonical JSON of everything else. A stored point is
reused only if it is this format, names the key it is filed under (and the key the
sweep asks for), its digest matches its content and its row has every metric with a
valid value; anything else -- a truncated file, ``[]``, ``{}``, a hand-edited
``"cycles": -5``, a file of an older eiesim -- is *rejected* (the sweep says which and
why) and recomputed. Files are written with ``eiesim.outputs.commit`` (complete or absent).

What the rules are (``METRIC_RULES``): counts (cycles, padding entries, DRAM bytes) are
non-negative integers, amounts non-negative finite numbers, fractions in [0, 1]; NaN and
infinities are rejected everywhere. A point of several images (``images`` > 1) stores the
*means* over its images, so its counts are non-negative finite numbers and its ``_min`` /
``_max`` columns follow the one-image rules (``MEAN_METRIC_RULES``).

What the checksum protects against: accidental damage -- a truncated or half-copied file, a
flipped byte, a careless hand edit. It is not a signature: anyone with write access to the
directory can write a point with a matching checksum (the algorithm is documented), so a
sweep directory must be as trusted as the results it holds.

Claims: before computing a point a sweep takes an exclusive, non-blocking ``flock`` on
``points/<key>.claim``. A second sweep into the same directory skips points claimed by
the first, computes the others, and at the end waits for the first sweep's claims and
reuses what it stored -- so each point is computed once. A claim dies with its process
(``flock``), so a killed sweep never blocks the next one; claim files are removed when
released. ``results.csv`` and ``results.jsonl`` are written together (``OutputSet``)
under a lock on the directory.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eiesim.errors import EiesimError, OutputError, SweepError
from eiesim.inputs.text import parse_json, read_text
from eiesim.outputs.commit import OutputSet, write_text
from eiesim.sweeps.points import METRIC_COLUMNS, SPREAD_METRICS

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

POINT_FORMAT = "eiesim-sweep-point"
POINT_VERSION = 1
#: Largest point file read (bytes); a row is a few hundred bytes.
MAX_POINT_BYTES = 16 * 1024**2
#: Seconds between two regenerations of results.csv / results.jsonl while a sweep runs.
TABLES_INTERVAL_S = 1.0


# -- validating a stored point ---------------------------------------------------------

def _number(v: Any) -> bool:
    """A finite JSON number (NaN and infinities are not measurements)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _nonneg_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _nonneg_number(v: Any) -> bool:
    return _number(v) and v >= 0


def _fraction(v: Any) -> bool:
    return _number(v) and 0.0 <= v <= 1.0


_COUNT = (_nonneg_int, "a non-negative integer")
_MEAN_COUNT = (_nonneg_number, "a non-negative finite number (a mean over the point's images)")
_AMOUNT = (_nonneg_number, "a non-negative finite number")

#: What each metric of a one-image row must be (a stored row failing any of these is recomputed).
METRIC_RULES: dict[str, tuple[Any, str]] = {
    "cycles": _COUNT,
    "time_us": _AMOUNT,
    "frames_per_s": _AMOUNT,
    "energy_uj": _AMOUNT,
    "chip_power_mw": _AMOUNT,
    "pe_area_um2": _AMOUNT,
    "chip_area_mm2": _AMOUNT,
    "load_balance_efficiency": (_fraction, "a number in [0, 1]"),
    "padding_entries": _COUNT,
    "dram_bytes": _COUNT,
    "functional": (lambda v: v in ("pass", "fail", "n/a"), "'pass', 'fail' or 'n/a'"),
}
#: A row of several images (``images`` > 1) holds *means*: its counts are numbers, not integers;
#: its ``_min`` / ``_max`` columns are what one image measured.
MEAN_METRIC_RULES: dict[str, tuple[Any, str]] = {
    **{k: (_MEAN_COUNT if rule is _COUNT else rule) for k, rule in METRIC_RULES.items()},
    **{f"{k}_{end}": METRIC_RULES[k] for k in SPREAD_METRICS for end in ("min", "max")},
}


def rules_for(row: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    """The rules a stored row is checked by: one image's, or (``images`` > 1) those of means."""
    images = row.get("images", 1)
    return MEAN_METRIC_RULES if isinstance(images, int) and not isinstance(images, bool) and images > 1 \
        else METRIC_RULES


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def envelope(key: str, row: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a finished point."""
    body = {"format": POINT_FORMAT, "version": POINT_VERSION, "key": key, "row": row}
    return {**body, "sha256": _digest(body)}


def check_point(data: Any, key: str, metrics: tuple[str, ...]) -> dict[str, Any]:
    """The row of a stored point, or ValueError saying why it cannot be trusted."""
    if not isinstance(data, dict):
        raise ValueError(f"holds a JSON {type(data).__name__}, not a point record")
    if data.get("format") != POINT_FORMAT:
        raise ValueError("not a point record of this eiesim (no 'format': written by an older version?)")
    if data.get("version") != POINT_VERSION:
        raise ValueError(f"point record version {data.get('version')!r} is not {POINT_VERSION}")
    if data.get("key") != key:
        raise ValueError(f"is filed under {key} but names the key {data.get('key')!r}")
    body = {k: v for k, v in data.items() if k != "sha256"}
    if data.get("sha256") != _digest(body):
        raise ValueError("its checksum does not match its content (edited or damaged)")
    row = data.get("row")
    if not isinstance(row, dict):
        raise ValueError("'row' is not an object")
    if row.get("point") != key:
        raise ValueError(f"'row.point' is {row.get('point')!r}, not {key}")
    rules = rules_for(row)
    if rules is MEAN_METRIC_RULES:
        metrics = (*metrics, *(k for k in MEAN_METRIC_RULES if k not in METRIC_RULES))
    for name in metrics:
        if name not in row:
            raise ValueError(f"the metric {name!r} is missing")
        rule = rules.get(name)
        if rule is not None and not rule[0](row[name]):
            raise ValueError(f"{name} = {row[name]!r} is not {rule[1]}")
    return row


@dataclass(frozen=True)
class Rejected:
    """A stored point that was not reused, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


# -- claims ------------------------------------------------------------------------------

class Claim:
    """An exclusive flock on ``points/<key>.claim``; ``release()`` removes the file."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd = path, fd

    def release(self) -> None:
        if self.fd < 0:
            return
        with contextlib.suppress(OSError):
            if os.path.samestat(os.fstat(self.fd), os.stat(self.path)):
                os.unlink(self.path)  # still ours: nobody else can have it locked
        os.close(self.fd)
        self.fd = -1


def _acquire(path: Path, blocking: bool) -> Claim | None:
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot create a claim file ({exc.strerror})", path) from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                return None
            except OSError:  # no locks on this file system: no coordination between sweeps
                pass
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return Claim(path, fd)
        except FileNotFoundError:
            pass
        os.close(fd)  # the previous holder removed the file as we locked it: take the new one


# -- the store ---------------------------------------------------------------------------

class ResultStore:
    """One verified JSON file per finished point under ``DIR/points``; tables regenerated from them."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.points_dir = self.dir / "points"
        try:
            self.points_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the sweep directory ({exc.strerror})", self.dir) from None
        self._rejected: dict[Path, Rejected] = {}
        self._tables_written = float("-inf")

    def _path(self, key: str) -> Path:
        return self.points_dir / f"{key}.json"

    def load(self, key: str, metrics: tuple[str, ...]) -> dict[str, Any] | None:
        """The stored row of ``key`` if it passes every check, else None (rejections are recorded)."""
        path = self._path(key)
        if not path.exists():
            return None
        try:
            data = parse_json(read_text(path, SweepError, "point file", MAX_POINT_BYTES), path, SweepError)
            row = check_point(data, key, metrics)
        except (EiesimError, ValueError) as exc:
            reason = exc.message if isinstance(exc, EiesimError) else str(exc)
            self._rejected.setdefault(path, Rejected(path, reason.removeprefix(f"{path}: ")))
            return None
        return row

    @property
    def rejected(self) -> list[Rejected]:
        """Stored points that failed verification (each once), in the order they were found."""
        return list(self._rejected.values())

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored row of ``key`` (checked against the standard metrics), or None."""
        return self.load(key, METRIC_COLUMNS)

    def put(self, key: str, row: dict[str, Any]) -> None:
        path = self._path(key)
        _drop_special_entry(path)
        write_text(path, json.dumps(envelope(key, row), sort_keys=True))

    def claim(self, key: str, blocking: bool = False) -> Claim | None:
        """Claim ``key`` for computing; None if another sweep holds it (``blocking``: wait for it)."""
        return _acquire(self.points_dir / f"{key}.claim", blocking)

    def tables_due(self) -> bool:
        """Whether the tables should be regenerated now: at most every ``TABLES_INTERVAL_S`` during a
        sweep (rewriting them after every point made a sweep of N points O(N^2)); the points are the
        record, so a killed sweep's tables are at most that stale and the next run rewrites them."""
        return time.monotonic() - self._tables_written >= TABLES_INTERVAL_S

    def write_tables(self, rows: list[dict[str, Any]], columns: list[str]) -> None:
        self._tables_written = time.monotonic()
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        tables = OutputSet()
        tables.add_file(self.dir / "results.csv", buf.getvalue())
        tables.add_file(self.dir / "results.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
        tables.commit()


def _drop_special_entry(path: Path) -> None:
    """Remove a point entry that is not a regular file (a link, a FIFO, a device node put there by hand).

    The points folder is the store's own; such an entry failed verification when it was read, and
    the recomputed point replaces it. Only the directory entry goes (a link's target is untouched);
    every other output keeps the rule of eiesim.outputs.paths.check_replaceable and refuses them.
    """
    with contextlib.suppress(FileNotFoundError):
        mode = os.lstat(path).st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            path.unlink()


__all__ = ["Claim", "MEAN_METRIC_RULES", "METRIC_RULES", "POINT_FORMAT", "POINT_VERSION", "Rejected", "ResultStore",
           "check_point", "envelope"]
