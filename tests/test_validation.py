"""Configs and layers made in code are validated like loaded ones (issue 12, bug 5)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import eiesim
from eiesim.config.arch import ArchConfig, load_arch
from eiesim.errors import ArchError, EiesimError, UsageError, WorkloadError
from eiesim.network.synthetic import eie_fc_layer
from eiesim.network.workload import Workload, layer_from_dense


@pytest.fixture(scope="module")
def fc():
    return eie_fc_layer("fc", 64, 32, 0.3, 0.5, 4, 0)


def test_model_copy_with_an_invalid_value_is_refused_not_a_segfault():
    """Before: ``simulate(arch.model_copy(update={"fifo_depth": -3}), wl)`` killed the process (SIGSEGV)."""
    code = textwrap.dedent("""
        import eiesim
        from eiesim.network.synthetic import eie_fc_layer
        wl = eie_fc_layer("fc", 64, 32, 0.3, 0.5, 4, 0)
        try:
            eiesim.simulate(eiesim.ArchConfig().model_copy(update={"fifo_depth": -3}), wl)
        except eiesim.EiesimError as exc:
            print("refused:", exc)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    assert proc.stdout.startswith("refused: fifo_depth:") and "greater than or equal to 1" in proc.stdout


@pytest.mark.parametrize("make", [
    lambda: ArchConfig.model_construct(num_pes=0),            # bypasses pydantic entirely
    lambda: ArchConfig.model_construct(fifo_depth=-3),
    lambda: ArchConfig.model_construct(spmat_sram={"width_bits": 4}),
])
def test_simulate_refuses_an_unvalidated_config(make, fc):
    """Before: ``num_pes: 0`` reached the engine and raised ZeroDivisionError."""
    with pytest.raises(ArchError):
        eiesim.simulate(make(), fc)


def test_derive_is_the_validated_way_to_vary_a_config():
    base = load_arch(None)
    assert base.derive(num_pes=32).num_pes == 32
    assert base.derive({"spmat_sram.width_bits": 128}).spmat_sram.width_bits == 128
    assert base.derive(["fifo_depth=4", "ptr_sram.size_bytes=auto"]).ptr_sram.size_bytes == "auto"
    assert base.num_pes == 64  # the original is untouched
    with pytest.raises(ArchError, match="num_pes"):
        base.derive(num_pes=0)
    with pytest.raises(ArchError, match="unknown key 'bogus'"):
        base.derive(bogus=1)
    with pytest.raises(ArchError, match="unknown key 'bogus'"):
        base.model_copy(update={"bogus": 1})
    # A valid model_copy keeps working (the simulator itself uses it to resolve 'auto' sizes).
    assert base.model_copy(update={"num_pes": 8}).num_pes == 8


@pytest.mark.parametrize("override", ["num_pes=true", "fifo_depth=false", "spmat_sram.width_bits=yes",
                                      "clock_mhz=on"])
def test_booleans_are_not_numbers(override):
    """Before: ``--set num_pes=true`` ran 1 PE (pydantic coerces true to 1)."""
    with pytest.raises(ArchError, match="must be a number, got (true|false)"):
        load_arch(None, [override])


def test_yaml_boolean_is_not_a_number(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("num_pes: true\n")
    with pytest.raises(ArchError, match="num_pes must be a number, got true"):
        load_arch(path)


def _layer_with(**changes):
    layer = eie_fc_layer("fc", 64, 32, 0.3, 0.5, 4, 0).layers[0]
    for key, value in changes.items():
        setattr(layer, key, value)
    return layer


@pytest.mark.parametrize("changes, match", [
    ({"codes": None}, "must be one-dimensional"),
    ({"codes": np.zeros(0, np.float32)}, "must hold integers"),
    ("codes_beyond_codebook", "codes must be < codebook size 16"),
    ("indptr_decreasing", "indptr must start at 0 and never decrease"),
    ("indices_out_of_range", "indices must lie in"),
    ({"bias": np.zeros(3, np.float32)}, "bias has 3 entries"),
    ({"codebook": np.array([np.nan] * 16, np.float32)}, "NaN or Inf"),
    ({"in_channels": 0}, "in_channels"),
    ({"kind": "rnn"}, "'kind' must be 'conv', 'fc', 'lstm', 'gru'"),
    ({"kind": "lstm"}, "needs a positive integer 'hidden'"),
])
def test_simulate_refuses_a_broken_layer_built_in_code(changes, match):
    """Before: a layer built in code with codes beyond its codebook raised a raw IndexError."""
    layer = _layer_with()
    if changes == "codes_beyond_codebook":
        layer.codes = np.full_like(layer.codes, 200)
    elif changes == "indptr_decreasing":
        layer.indptr = layer.indptr[::-1].copy()
    elif changes == "indices_out_of_range":
        layer.indices = layer.indices + 1000
    else:
        for key, value in changes.items():
            setattr(layer, key, value)
    wl = Workload("w", "test", (64,), None, [layer], np.ones(64, np.float32))
    with pytest.raises(WorkloadError, match=match):
        eiesim.simulate(load_arch(None, ["num_pes=4"]), wl)


@pytest.mark.parametrize("call", [
    lambda fc: eiesim.simulate({"num_pes": 4}, fc),
    lambda fc: eiesim.simulate(load_arch(None), None),
    lambda fc: eiesim.simulate(load_arch(None), fc, plan="x"),
    lambda fc: eiesim.load_arch(5),
    lambda fc: eiesim.load_workload(None),
    lambda fc: eiesim.save_workload(None, "x.npz"),
    lambda fc: layer_from_dense("x", np.ones((2, 2))),
    lambda fc: layer_from_dense("x", np.ones(2), codebook=[1.0]),
])
def test_wrong_api_arguments_are_eiesim_errors(call, fc, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EiesimError):
        call(fc)


def test_api_type_errors_are_usage_errors(fc):
    with pytest.raises(UsageError, match="must be an eiesim ArchConfig"):
        eiesim.simulate({"num_pes": 4}, fc)
