"""Empty architecture files, unbuildable widths and the library's edges (issue 22, items 4 and 8).

An empty, comment-only or ``~`` architecture file is a mistake, not a request for the
published chip; a Spmat SRAM width that is not a whole number of bytes cannot be built.
The public functions raise only the eiesim error family for malformed arguments and refuse
input arrays that are not real numbers instead of casting them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _support import run_cli

import eiesim
from eiesim.errors import ArchError, InputDataError, UsageError
from eiesim.network.synthetic import eie_fc_layer
from eiesim.network.workload_file import save_workload

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"


@pytest.fixture(scope="module")
def wl():
    return eie_fc_layer("fc", 32, 16, 0.3, 0.5, bits=4, seed=1)


@pytest.fixture(scope="module")
def fc_npz(tmp_path_factory, wl) -> Path:
    path = tmp_path_factory.mktemp("wl") / "fc.npz"
    save_workload(wl, path)
    return path


# -- item 4: empty architectures, widths the hardware cannot build ------------------------

@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "~\n", "null\n", "---\n"])
def test_empty_architecture_file_is_refused(text, tmp_path):
    path = tmp_path / "arch.yaml"
    path.write_text(text)
    with pytest.raises(ArchError, match="empty architecture file"):
        eiesim.load_arch(path)


def test_empty_architecture_file_is_refused_by_run(tmp_path, fc_npz, capsys):
    path = tmp_path / "arch.yaml"
    path.write_text("# nothing yet\n")
    code, _, err = run_cli(["run", str(path), str(fc_npz), "--json", str(tmp_path / "r.json")], capsys)
    assert code == 2 and "empty architecture file" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arch.yaml"]


def test_explicit_empty_mapping_means_the_default_design(tmp_path):
    """'{}' is the documented way to ask for every default: it equals load_arch(None)."""
    path = tmp_path / "arch.yaml"
    path.write_text("{}\n")
    assert eiesim.load_arch(path).to_dict() == eiesim.load_arch(None).to_dict()


@pytest.mark.parametrize("width", [9, 60, 100, 1020])
def test_spmat_width_must_be_whole_bytes(width):
    with pytest.raises(ArchError, match="whole number of bytes"):
        eiesim.load_arch(None, [f"spmat_sram.width_bits={width}"])


@pytest.mark.parametrize("width", [8, 16, 56, 64, 128, 1024])
def test_whole_byte_widths_are_accepted(width):
    arch = eiesim.load_arch(None, ["codebook_bits=4", f"spmat_sram.width_bits={width}"])
    assert arch.spmat_sram.width_bits == width
    assert arch.entries_per_word == width // 8  # 4 + 4 bit entries: one per byte


def test_cli_refuses_width_100(fc_npz, capsys):
    code, _, err = run_cli(["run", str(TINY), str(fc_npz), "--set", "spmat_sram.width_bits=100"], capsys)
    assert code == 2 and "spmat_sram.width_bits" in err and "whole number of bytes" in err


# -- item 8: the library's edges ------------------------------------------------------

@pytest.mark.parametrize("overrides", [[None], [3], ["num_pes=8", None], {1: 2}, 7, object()])
def test_load_arch_with_malformed_overrides_raises_arch_error(overrides):
    with pytest.raises(ArchError, match="overrides|override key"):
        eiesim.load_arch(TINY, overrides)


def test_load_arch_with_one_override_string():
    assert eiesim.load_arch(TINY, "num_pes=8").num_pes == 8


@pytest.mark.parametrize("dtype", [np.complex64, object, np.str_, np.bool_])
def test_non_numeric_input_arrays_are_refused(dtype, wl):
    arch = eiesim.load_arch(TINY)
    x = np.ones(wl.input_shape).astype(dtype)
    with pytest.raises(InputDataError, match="real numbers"):
        eiesim.simulate(arch, wl, input=x)


def test_simulate_images_with_no_images_is_refused(wl):
    with pytest.raises(InputDataError, match="list of images is empty"):
        eiesim.simulate_images(eiesim.load_arch(TINY), wl, [])


def test_sweep_with_a_workload_that_is_neither_object_nor_path_raises_usage_error(tmp_path):
    """A loaded Workload or a path is a workload (tests/test_api_inputs.py); anything else is a usage error."""
    with pytest.raises(UsageError, match="workload"):
        eiesim.sweep(None, 42, ["fifo_depth=4,8"], tmp_path / "sw")
    assert not (tmp_path / "sw").exists()


def test_sweep_with_a_malformed_base_raises_usage_error(fc_npz, tmp_path):
    with pytest.raises(UsageError, match="architecture"):
        eiesim.sweep(["num_pes=4"], fc_npz, ["fifo_depth=4,8"], tmp_path / "sw")

