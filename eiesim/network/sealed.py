"""Sealed layers: arrays that eiesim read from a file and made read-only, so their content is known.

A warm ``simulate`` keys its caches by the content of each layer (``eiesim.run.content_cache``):
hashing the real Alex-8 layer's 5 MB of arrays takes longer than simulating it. A layer that
``load_workload`` built from a file owns arrays nobody else can reach: each is a read-only view
of a read-only array of its own, made here. While every one of those arrays is still the
layer's attribute, neither it nor its base has been made writeable again, and its shape,
strides and dtype (which numpy lets code reassign on the same object) are as they were, its
content cannot have changed, so the digest computed the first time is the digest now.

What this changes for users: the arrays of a loaded workload are read-only, as numpy's own
read-only results are. To edit one, give the layer a copy (``layer.codes = layer.codes.copy()``):
the layer is then no longer sealed and its digest is computed from its bytes again, as for any
layer built in memory. Attributes other than the arrays (name, shapes, pooling, ``extra``) may
change freely: the digest's caller compares them every time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The array attributes of a ``Layer`` that a seal covers (those ``layer_digest`` hashes).
SEALED_FIELDS = ("indptr", "indices", "codes", "codebook", "bias")
#: Where a sealed layer keeps its arrays (identity) and, once computed, its digest.
_SEAL_ATTR = "_eiesim_seal"


def _sealed_view(value: Any) -> np.ndarray:
    """A read-only view of a read-only array that owns its memory (a copy unless ``value`` owns it)."""
    owner = np.asarray(value)
    if not owner.flags.owndata or owner.base is not None:
        owner = owner.copy()
    owner.flags.writeable = False
    view = owner.view()
    view.flags.writeable = False
    return view


def seal_layer(layer: Any) -> None:
    """Make ``layer``'s arrays read-only views of arrays of their own, and remember them.

    For layers whose arrays no other object holds (as ``load_workload`` builds them): an array
    that owns its memory is used in place, made read-only; any other is copied first.
    """
    arrays = tuple(_sealed_view(getattr(layer, name)) for name in SEALED_FIELDS)
    for name, arr in zip(SEALED_FIELDS, arrays):
        setattr(layer, name, arr)
    layer.__dict__[_SEAL_ATTR] = [(arrays, tuple(_geometry(arr) for arr in arrays)), None]


def _geometry(arr: np.ndarray) -> tuple:
    """What numpy lets code change on an array object in place, besides its bytes: shape, strides, dtype."""
    return arr.shape, arr.strides, arr.dtype.str


def _still_sealed(layer: Any, sealed: tuple[tuple[np.ndarray, ...], tuple[tuple, ...]]) -> bool:
    values = layer.__dict__
    arrays, geometry = sealed
    for name, arr, geo in zip(SEALED_FIELDS, arrays, geometry):
        if values.get(name) is not arr or arr.flags.writeable or _geometry(arr) != geo:
            return False
        base = arr.base
        if not isinstance(base, np.ndarray) or base.flags.writeable or base.base is not None:
            return False
    return True


def _valid_seal(layer: Any) -> list | None:
    """``layer``'s seal while it holds, else None. A broken seal is dropped: it would keep the arrays
    that were replaced alive, and it cannot vouch for the layer again."""
    values = layer.__dict__
    seal = values.get(_SEAL_ATTR)
    if seal is None:
        return None
    if _still_sealed(layer, seal[0]):
        return seal
    values.pop(_SEAL_ATTR, None)
    return None


def sealed_digest(layer: Any, meta_text: str) -> str | None:
    """The digest stored for ``layer`` with these attributes (``meta_text``), if it is still sealed."""
    seal = _valid_seal(layer)
    if seal is None or seal[1] is None or seal[1][0] != meta_text:
        return None
    return seal[1][1]


def remember_digest(layer: Any, meta_text: str, digest: str) -> None:
    """Store ``digest`` for ``layer`` with these attributes, if its arrays are still sealed."""
    seal = _valid_seal(layer)
    if seal is not None:
        seal[1] = (meta_text, digest)


def is_sealed(layer: Any) -> bool:
    """Whether ``layer``'s arrays are the read-only ones ``seal_layer`` gave it, untouched."""
    return _valid_seal(layer) is not None
