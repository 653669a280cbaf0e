"""Caches keyed by content: work that a repeated simulation or a sweep point would redo.

A warm ``simulate`` of the same layers, and the points of a sweep that differ only in
keys that leave the functional result unchanged (PE count, FIFO depth, SRAM sizes,
clock, ...), need the same workload validation, fixed-point plan, fixed-point reference,
the same exact accumulators from the fast engine's arithmetic, and -- for the same
encoding parameters -- the same per-PE encoding (and, on the same architecture, the same
storage resolution: pointer widths, SRAM sizes, residency). Those are pure
functions of array contents and a few numbers, so they are kept here under a digest of
exactly those inputs (``array_digest``, ``layer_digest``): a key never matches arrays
whose bytes, shape or dtype differ, nor another architecture's encoding parameters, so
a cached value is the value that would have been computed. Every cache is bounded (an
entry count and a byte budget, least recently used first out) and lives in the process:
each Dask worker keeps its own and reuses it across the points it runs.

Cached arrays are made read-only, so that code sharing one value cannot change it for
the next caller. ``clear_caches()`` empties every cache (tests, long-running programs).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from eiesim.jit.digest_kernels import mix_words
from eiesim.jit.cache_guard import call
from eiesim.network.sealed import SEALED_FIELDS, remember_digest, sealed_digest

#: Byte budget of each cache (values counted by their arrays' sizes).
DEFAULT_BUDGET_BYTES = 256 << 20
#: Largest number of values each cache holds.
DEFAULT_MAX_ENTRIES = 256

_SEED_A = 0x243F6A8885A308D3
_SEED_B = 0x13198A2E03707344


def _words(arr: np.ndarray) -> np.ndarray:
    """The bytes of ``arr`` (C order) as uint64 words, the tail zero-padded."""
    raw = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
    tail = raw.shape[0] % 8
    if tail:
        raw = np.concatenate([raw, np.zeros(8 - tail, dtype=np.uint8)])
    return raw.view(np.uint64)


def array_digest(*arrays: Any, extra: Any = None) -> str:
    """A 128-bit hex digest of the arrays' dtypes, shapes and bytes, and of ``extra`` (JSON-able).

    Numeric arrays only (bool, integer, float): anything else raises TypeError.
    """
    return _digest(arrays, _extra_text(extra))


def _extra_text(extra: Any) -> str:
    return "null" if extra is None else json.dumps(extra, sort_keys=True, default=str)  # json.dumps(None)


def _digest(arrays: Iterable[Any], extra_text: str) -> str:
    """``array_digest`` with ``extra`` already written as its JSON text."""
    head = [extra_text]
    lanes = []
    for item in arrays:
        arr = np.asarray(item)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"cannot digest an array of {arr.dtype}")
        head.append(f"{arr.dtype.str}{arr.shape}")
        a, b = call(mix_words, _words(arr), _SEED_A, _SEED_B)
        lanes.append(f"{int(a):016x}{int(b):016x}")
    text = "|".join(head + lanes).encode()
    padded = text + bytes(-len(text) % 8)  # ``_words`` of the text's bytes: the tail zero-padded to whole words
    a, b = call(mix_words, np.frombuffer(padded, dtype=np.uint64), _SEED_A ^ len(text), _SEED_B)
    return f"{int(a):016x}{int(b):016x}"


def layer_digest(layer: Any) -> str:
    """Digest of one layer: its attributes (``to_meta``) and its five arrays (``SEALED_FIELDS``, in that order).

    A layer sealed by ``load_workload`` (``eiesim.network.sealed``) whose arrays are untouched
    keeps the digest of those arrays: only its attributes are compared again.
    """
    extra_text = _extra_text(["layer", layer.to_meta()])
    known = sealed_digest(layer, extra_text)
    if known is not None:
        return known
    digest = _digest([getattr(layer, name) for name in SEALED_FIELDS], extra_text)
    remember_digest(layer, extra_text, digest)
    return digest


def workload_digest(workload: Any, layer_digests: Iterable[str]) -> str:
    """Digest of a workload's network: input shape, preprocessing, extra attributes (a pinned
    fixed-point plan lives there), stored input and its layers' digests, in order.

    ``layer_digests``: ``layer_digest`` of each layer (computed once by the caller).
    """
    stored = [] if workload.input is None else [workload.input]
    return array_digest(*stored, extra=["workload", list(workload.input_shape), workload.preprocess, workload.extra,
                                        workload.input is None, list(layer_digests)])


def encoding_key(layer_digest_: str, encoder: str, arch: Any) -> tuple:
    """The key of one layer's per-PE encoding: the layer's digest and every architecture value the
    encoder reads (``eiesim.encoding.layout``: PEs, registers, relative-index and word widths,
    pointer width, bias handling)."""
    return (layer_digest_, encoder, arch.num_pes, arch.act_regs_per_pe, arch.act_capacity, arch.rel_index_bits,
            arch.entries_per_word, arch.spmat_sram.width_bits, str(arch.ptr_sram.pointer_bits), arch.ccu.bias)


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    fields = getattr(value, "__dataclass_fields__", None)
    if fields:
        return sum(_nbytes(getattr(value, f, None)) for f in fields)
    return 64


def _freeze(value: Any) -> None:
    """Make every array reachable through dicts, lists, tuples and dataclass fields read-only."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, dict):
        for v in value.values():
            _freeze(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _freeze(v)
    elif getattr(value, "__dataclass_fields__", None):
        for f in value.__dataclass_fields__:
            _freeze(getattr(value, f, None))


class ContentCache:
    """A bounded, thread-safe map from content digests to computed values (least recently used out)."""

    def __init__(self, name: str, budget_bytes: int = DEFAULT_BUDGET_BYTES,
                 max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.name = name
        self.budget_bytes = budget_bytes
        self.max_entries = max_entries
        self._values: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Any, compute: Callable[[], Any]) -> Any:
        """The value cached under ``key``, else ``compute()`` (frozen, then cached if it fits the budget)."""
        with self._lock:
            found = self._values.get(key)
            if found is not None:
                self._values.move_to_end(key)
                self.hits += 1
                return found[0]
            self.misses += 1
        return self.put(key, compute())

    def put(self, key: Any, value: Any) -> Any:
        """Cache ``value`` under ``key`` (frozen; kept if it fits the budget, unless a value is there) and
        return it. For a value computed after a ``get`` missed (that miss is the one counted)."""
        _freeze(value)
        size = _nbytes(value)
        if size > self.budget_bytes:
            return value
        with self._lock:
            if key not in self._values:
                self._values[key] = (value, size)
                self._bytes += size
            while self._values and (self._bytes > self.budget_bytes or len(self._values) > self.max_entries):
                _, (_, dropped) = self._values.popitem(last=False)
                self._bytes -= dropped
        return value

    def get(self, key: Any) -> Any:
        """The value cached under ``key`` (counted as a hit, and made the most recent), else None (a miss)."""
        with self._lock:
            found = self._values.get(key)
            if found is None:
                self.misses += 1
                return None
            self._values.move_to_end(key)
            self.hits += 1
            return found[0]

    def __contains__(self, key: Any) -> bool:
        """Whether a value is cached under ``key`` (counted as a hit, and made the most recent, if so)."""
        with self._lock:
            if key not in self._values:
                return False
            self._values.move_to_end(key)
            self.hits += 1
            return True

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._values)


#: Layers already validated (``eiesim.checks``): digest -> True.
VALIDATED_LAYERS = ContentCache("validated layers", budget_bytes=1 << 20, max_entries=4096)
#: Workloads already validated as a whole (structure, names, shapes): workload digest -> True.
VALIDATED_WORKLOADS = ContentCache("validated workloads", budget_bytes=1 << 20, max_entries=1024)
#: Fixed-point plans calibrated on an input: (workload digest, input digest, bits) -> FixedPointPlan.
PLANS = ContentCache("fixed-point plans")
#: Fixed-point reference outputs: (workload digest, input digest, plan) -> {layer: output}.
REFERENCES = ContentCache("fixed-point references")
#: Per-PE encodings: (layer digest, encoder, encoding parameters) -> ColumnLayout / EncodedLayer.
ENCODINGS = ContentCache("encodings")
#: Network inputs made from a bundled photo: (workload digest, photo name) -> preprocessed float32 input.
INPUTS = ContentCache("network inputs", max_entries=32)
#: The timing engine's exact accumulators of one layer: (layer digest, input digest, the codebook's weight
#: format) -> int64 array. They depend on nothing else (not on PEs, FIFOs, SRAMs, grouping, clock).
ACCUMULATORS = ContentCache("layer accumulators")
#: Keys of ``ACCUMULATORS`` computed once in this process (-> True): the second computation is kept, so
#: that a single simulation of a big network holds no accumulators beyond its own run.
ACCUMULATORS_SEEN = ContentCache("layer accumulators seen once", budget_bytes=1 << 20, max_entries=4096)
#: Storage resolutions (``timing.contract.resolve_storage``): (architecture content key, each layer's name,
#: encoding key and pixel groups, in order) -> (resolved arch, summary, streamed bytes, {layer: re-pointed layout}).
STORAGE = ContentCache("storage resolutions")

#: Whether ``remember_accumulators`` keeps a first computation (set in sweep workers: ``keep_first_accumulators``).
_KEEP_FIRST_ACCUMULATORS = [False]


def keep_first_accumulators(keep: bool = True) -> None:
    """Keep a layer's accumulators the first time this process computes them (``keep=False``: the default
    again, the second time). A sweep worker process runs every point it is given on one workload and one
    input, so each of its points after the first finds them; a program that simulates a big network
    once keeps none beyond its run."""
    _KEEP_FIRST_ACCUMULATORS[0] = bool(keep)


def remember_accumulators(key: Any, accumulators: np.ndarray) -> None:
    """Record that the accumulators under ``key`` were computed: ``ACCUMULATORS`` keeps them the second
    time (or the first, in a process that ``keep_first_accumulators``); ``ACCUMULATORS_SEEN`` notes the first."""
    if _KEEP_FIRST_ACCUMULATORS[0] or key in ACCUMULATORS_SEEN:
        ACCUMULATORS.put(key, accumulators)
    else:
        ACCUMULATORS_SEEN.put(key, True)


ALL_CACHES = (VALIDATED_LAYERS, VALIDATED_WORKLOADS, PLANS, REFERENCES, ENCODINGS, INPUTS, ACCUMULATORS,
              ACCUMULATORS_SEEN, STORAGE)


def checked_layer_digests(workload: Any) -> list[str]:
    """``eiesim.network.checks.checked_workload(workload)``, returning each layer's content digest in
    order (``checked_workload_digests``)."""
    return checked_workload_digests(workload)[0]


def checked_workload_digests(workload: Any) -> tuple[list[str], str]:
    """``eiesim.network.checks.checked_workload(workload)``, returning each layer's content digest in
    order and the workload's (``workload_digest``); a layer whose digest was already checked in this
    process skips its array rules, and a workload whose digest was already checked as a whole skips
    every rule.

    The workload digest (``workload_digest``) covers everything the rules read: the input shape
    and stored input, and each layer's attributes (``to_meta``: name, kind, shapes, inputs,
    pooling, extra keys) and arrays, in order. Objects the digest cannot vouch for (not a
    Workload, layers not a list of Layers) always get the full rules, which name the problem.
    """
    from eiesim.network.checks import checked_workload
    from eiesim.network.workload import Layer, Workload

    known = None
    if (isinstance(workload, Workload) and isinstance(workload.layers, list)
            and all(isinstance(layer, Layer) for layer in workload.layers)):
        try:
            known = [layer_digest(layer) for layer in workload.layers]
            whole = workload_digest(workload, known)
            if whole in VALIDATED_WORKLOADS:
                return known, whole
        except (TypeError, ValueError, AttributeError):  # the rules below say what is wrong
            known = None
    digests: list[str] = []

    def check_arrays(layer: Any, rules: Callable[[], object]) -> None:
        try:  # layers come in order: the digest computed above is this layer's
            digest = known[len(digests)] if known is not None else layer_digest(layer)
        except TypeError:  # arrays that are not numeric: the rules say why
            rules()
            raise
        # The digest names the layer's content, not its position: the rules are the same at any
        # index, and an error is raised before anything is cached.
        VALIDATED_LAYERS.get_or_compute(digest, lambda: bool(rules()))
        digests.append(digest)

    checked_workload(workload, check_arrays)
    whole = workload_digest(workload, digests)
    VALIDATED_WORKLOADS.get_or_compute(whole, lambda: True)
    return digests, whole


def clear_caches() -> None:
    """Empty every content cache of this process."""
    for cache in ALL_CACHES:
        cache.clear()
