"""Sealed layers (eiesim.network.sealed): a loaded layer's digest is kept only while its bytes cannot change.

The reference for every digest here is the digest of an unsealed deep copy of the layer, which
``layer_digest`` computes from the bytes (a deep copy's arrays are new and writeable). Whatever
is done to the sealed layer, the kept digest must equal that one, and a run on the edited layer
must equal a run on the edited layer written to a file and loaded again.
"""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import numpy as np
import pytest

from eiesim import load_arch, load_workload, simulate
from eiesim.network.sealed import SEALED_FIELDS, is_sealed
from eiesim.network.workload_file import save_workload
from eiesim.run.content_cache import layer_digest

from _support import random_fc_workload

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"


def _loaded(tmp_path: Path, seed: int = 3, name: str = "wl.npz"):  # noqa: ANN202 - a Workload
    return load_workload(save_workload(random_fc_workload(16, 12, seed), tmp_path / name))


def _from_bytes(layer) -> str:  # noqa: ANN001
    """The digest computed from the layer's bytes: an unsealed deep copy has no kept digest."""
    fresh = copy.deepcopy(layer)
    assert not is_sealed(fresh)
    return layer_digest(fresh)


def test_a_loaded_layer_is_sealed_and_its_arrays_are_read_only(tmp_path):
    layer = _loaded(tmp_path).layers[0]
    assert is_sealed(layer)
    for name in SEALED_FIELDS:
        arr = getattr(layer, name)
        assert not arr.flags.writeable
        with pytest.raises(ValueError):  # numpy refuses the write; the message is numpy's
            arr[...] = 0
        with pytest.raises(ValueError):  # and refuses to make the view writeable again
            arr.flags.writeable = True
    assert layer_digest(layer) == layer_digest(layer) == _from_bytes(layer)


def test_the_digest_follows_every_change_a_user_can_make(tmp_path):
    """Random edits, each followed by the digest against the one from the bytes. Every kind of edit is
    made while the layer is still sealed, with its digest kept (the case a stale digest would hide in)."""
    wl = _loaded(tmp_path)
    layer = wl.layers[0]
    rng = np.random.default_rng(7)
    seen = {layer_digest(layer)}
    made_while_sealed = dict.fromkeys((0, 1, 2, 3, 5, 6), 0)
    for step in range(300):
        edit = int(rng.integers(7))
        if edit != 4 and is_sealed(layer):
            made_while_sealed[edit] += 1
        if edit == 0:  # a modified copy put in place of one array
            name = SEALED_FIELDS[int(rng.integers(2, 5))]  # codes, codebook or bias: the layer stays valid
            arr = getattr(layer, name).copy()
            arr.reshape(-1)[int(rng.integers(arr.size))] = (1 if name == "codes" else 0.5) * (step % 3)
            setattr(layer, name, arr)
        elif edit == 1:  # the array's own memory unlocked through its base, and written
            name = SEALED_FIELDS[int(rng.integers(2, 5))]
            base = getattr(layer, name).base
            if isinstance(base, np.ndarray) and base.base is None:
                base.flags.writeable = True
                flat = base.reshape(-1)
                flat[0] = (flat[0] + 1) % 4 if name == "codes" else flat[0] + 1
        elif edit == 2:
            layer.relu = not layer.relu
        elif edit == 3:
            layer.name = f"fc{step}"
        elif edit == 5:  # the same array object given another shape (numpy allows it on a view)
            codes = layer.codes
            codes.shape = (codes.size, 1) if codes.ndim == 1 else (codes.size,)
        elif edit == 6:  # the same array object reinterpreted as another dtype of the same item size
            bias = layer.bias
            bias.dtype = np.int32 if bias.dtype == np.float32 else np.float32
        else:  # sealed again: a fresh load of the same file
            layer = _loaded(tmp_path).layers[0]
        digest = layer_digest(layer)
        assert digest == layer_digest(layer) == _from_bytes(layer), f"step {step}, edit {edit}"
        seen.add(digest)
    assert min(made_while_sealed.values()) >= 3, made_while_sealed
    assert len(seen) > 60  # the edits changed the content, and the digests saw it


def test_a_run_on_an_edited_loaded_layer_is_the_run_on_that_layer_loaded_afresh(tmp_path):
    arch = load_arch(TINY)
    wl = _loaded(tmp_path)
    simulate(arch, wl)  # warm: the digest is kept, the caches hold this content
    layer = wl.layers[0]
    base = layer.codes.base
    base.flags.writeable = True  # in place, behind the read-only view
    base[:] = (base + 1) % 4
    edited = simulate(arch, wl)
    again = simulate(arch, _loaded_from(wl, tmp_path / "edited.npz"))
    assert edited.cycles == again.cycles
    assert np.array_equal(edited.outputs["fc"], again.outputs["fc"])
    assert edited.layers[0].actions == again.layers[0].actions
    assert edited.check["functional"] == "pass"


def _loaded_from(wl, path: Path):  # noqa: ANN001, ANN202
    return load_workload(save_workload(wl, path))


def test_a_pickled_or_copied_layer_is_not_sealed_but_keeps_its_digest(tmp_path):
    layer = _loaded(tmp_path).layers[0]
    digest = layer_digest(layer)
    for other in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
        assert not is_sealed(other)
        assert all(getattr(other, name).flags.writeable for name in SEALED_FIELDS)
        assert layer_digest(other) == digest
        other.codes[0] = (other.codes[0] + 1) % 4  # writeable: the digest follows the bytes
        assert layer_digest(other) != digest
    assert layer_digest(layer) == digest  # the sealed original never shared memory with them
    shallow = copy.copy(layer)  # the same read-only arrays: still sealed
    assert is_sealed(shallow) and layer_digest(shallow) == digest


def test_the_documented_way_to_edit_a_loaded_layer_works(tmp_path):
    import re

    doc = (ROOT / "docs" / "workload-format.md").read_text()
    code = re.search(r"## Loaded workloads hold read-only arrays.*?```python\n(.*?)```", doc, re.S).group(1)
    wl = _loaded(tmp_path)
    before = np.array(wl.layers[0].codes)
    exec(code, {"wl": wl})  # noqa: S102 - the documentation's own example
    layer = wl.layers[0]
    assert not is_sealed(layer)
    assert np.array_equal(layer.codes, np.where(before == 3, 2, before))
    assert layer_digest(layer) == _from_bytes(layer)


def test_the_decoded_matrix_of_a_layer_is_its_own(tmp_path):
    """scipy's in-place methods on ``weights_csr()`` work on a loaded layer and leave the layer as it was."""
    for layer in (_loaded(tmp_path).layers[0], random_fc_workload(16, 12, 4).layers[0]):
        before = {name: np.array(getattr(layer, name)) for name in SEALED_FIELDS}
        digest = layer_digest(layer)
        m = layer.weights_csr()
        dense = m.toarray()
        m.data[:] = 0  # every weight zero: eliminate_zeros compacts the index arrays in place
        m.eliminate_zeros()
        m.sort_indices()
        assert m.nnz == 0
        for name, value in before.items():
            assert np.array_equal(getattr(layer, name), value), name
        assert layer_digest(layer) == digest
        assert np.array_equal(layer.weights_csr().toarray(), dense)


def test_a_replaced_array_is_not_kept_alive_by_the_seal(tmp_path):
    import gc
    import weakref

    layer = _loaded(tmp_path).layers[0]
    layer_digest(layer)
    old = weakref.ref(layer.codes)
    layer.codes = np.array(layer.codes)  # a writeable copy in its place
    assert layer_digest(layer) == _from_bytes(layer)
    gc.collect()
    assert old() is None
