"""The library API the way a paper's script calls it: loaded objects or paths, a grid as a mapping,
one input keyword (``input``) everywhere, one default input rule, errors without command-line flags."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import eiesim
from eiesim.errors import ArchError, EiesimError, InputDataError, UsageError
from eiesim.network.synthetic import eie_fc_layer
from eiesim.network.workload import Pool, Workload, layer_from_dense

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"
#: A command-line flag in a message (``--set``, ``--image``): library messages name none.
FLAG = re.compile(r"(^|[\s`(])--[a-z]")


@pytest.fixture()
def fc(tmp_path) -> tuple[Workload, Path]:
    wl = eie_fc_layer("fc", 64, 32, 0.3, 0.5, 4, 0)
    return wl, eiesim.save_workload(wl, tmp_path / "fc.npz")


@pytest.fixture()
def rgb_without_input() -> Workload:
    """An RGB network (3 x 9 x 9, with a preprocess) that stores no input."""
    rng = np.random.default_rng(0)
    w = rng.choice(np.array([-1.0, 1.0], np.float32), size=(4, 3, 3, 3))
    layers = [layer_from_dense("conv", w, codebook=np.array([-1.0, 1.0], np.float32), stride=(2, 2),
                               pool=Pool("global_avg"), relu=False)]
    return Workload("rgb", "test", (3, 9, 9), {"resize": [10, 10], "crop": [9, 9], "scale": 255}, layers)


def _cycles_by_pes(result: eiesim.SweepResult) -> dict[int, int]:
    return {row["num_pes"]: row["cycles"] for row in result.rows}


def test_sweep_takes_loaded_objects_and_a_mapping_grid(fc, tmp_path):
    """Objects + mapping give the rows that paths + strings give, and each row's cycles are those of
    one ``simulate`` of that point (the second, independent way to get them)."""
    wl, path = fc
    arch = eiesim.load_arch(TINY)
    from_objects = eiesim.sweep(arch, wl, {"num_pes": [1, 2, 4]})
    from_paths = eiesim.sweep(TINY, path, ["num_pes=1,2,4"])
    expected = {n: eiesim.simulate(arch.derive(num_pes=n), wl).cycles for n in (1, 2, 4)}
    assert _cycles_by_pes(from_objects) == expected == _cycles_by_pes(from_paths)
    assert from_objects.columns == from_paths.columns
    assert [r["energy_uj"] for r in from_objects.rows] == [r["energy_uj"] for r in from_paths.rows]


def test_a_mapping_grid_takes_scalars_ranges_and_nested_keys(fc):
    wl, _ = fc
    result = eiesim.sweep(TINY, wl, {"num_pes": range(1, 3), "fifo_depth": 4, "spmat_sram.size_bytes": ["auto"]})
    assert [(r["num_pes"], r["fifo_depth"]) for r in result.rows] == [(1, 4), (2, 4)]
    assert "resolved.spmat_sram.size_bytes" in result.columns


def test_a_stored_sweep_of_a_loaded_workload_is_reused_and_its_manifest_has_no_path(fc, tmp_path):
    wl, path = fc
    first = eiesim.sweep(TINY, wl, {"num_pes": [1, 2]}, tmp_path / "s")
    again = eiesim.sweep(TINY, wl, {"num_pes": [1, 2]}, tmp_path / "s")
    assert (first.computed, again.computed, again.reused) == (2, 0, 2)
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["workload"]["path"] is None and manifest["workload"]["name"] == "fc"
    assert manifest["sets"] == ["num_pes=1,2"]


@pytest.mark.parametrize("grid, words", [
    ({"num_pes": []}, "no values"),
    ({"num_pes": [2, 2]}, "given twice"),
    ({"": [1]}, "not an architecture key"),
    (["num_pes"], "expected KEY=V1,V2"),
    (42, "a sweep grid is a mapping"),
    ({"no_such_key": [1]}, "unknown key"),
])
def test_bad_grids_are_eiesim_errors_without_flags(fc, grid, words):
    wl, _ = fc
    with pytest.raises(EiesimError) as info:
        eiesim.sweep(TINY, wl, grid)
    assert words in str(info.value) and not FLAG.search(str(info.value)), str(info.value)


def test_sweep_refuses_what_is_neither_a_path_nor_an_object(fc):
    wl, path = fc
    with pytest.raises(UsageError, match="the workload is a Workload or a workload file path"):
        eiesim.sweep(TINY, 3.5, {"num_pes": [1]})
    with pytest.raises(UsageError, match="the architecture is an ArchConfig"):
        eiesim.sweep(["num_pes=1"], path, {"num_pes": [1]})


def test_input_is_the_keyword_everywhere_and_the_old_ones_warn(fc):
    wl, _ = fc
    arch = eiesim.load_arch(TINY)
    x = np.asarray(wl.input, np.float32) * 0.5
    reference = eiesim.simulate(arch, wl, input=x).cycles
    assert eiesim.simulate_images(arch, wl, input=[x]).first.cycles == reference
    assert _cycles_by_pes(eiesim.sweep(arch, wl, {"num_pes": [4]}, input=x)) == {4: reference}
    from eiesim.run.multi_image import simulate_images
    from eiesim.sweeps.sweep import sweep
    for call in (lambda: eiesim.simulate_images(arch, wl, images=[x]).first.cycles,
                 lambda: simulate_images(arch, wl, images=[x]).first.cycles,
                 lambda: eiesim.sweep(arch, wl, {"num_pes": [4]}, image=x).rows[0]["cycles"],
                 lambda: sweep(arch, wl, {"num_pes": [4]}, image=x).rows[0]["cycles"]):
        with pytest.warns(DeprecationWarning, match="the keyword is input=") as caught:
            assert call() == reference
        assert caught[0].filename == __file__  # the warning points at the caller's line
    with pytest.raises(UsageError, match="give the input once"):
        eiesim.sweep(arch, wl, {"num_pes": [4]}, input=x, image=x)


def test_one_default_input_rule(rgb_without_input, tmp_path):
    """No input and none stored: every entry point simulates the bundled photo "chelsea"."""
    wl = rgb_without_input
    arch = eiesim.load_arch(TINY)
    photo = eiesim.simulate(arch, wl, input="chelsea")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default is no deprecated path
        default = eiesim.simulate(arch, wl)
        images = eiesim.simulate_images(arch, wl)
        swept = eiesim.sweep(arch, wl, {"num_pes": [arch.num_pes]}, tmp_path / "s")
    assert default.cycles == photo.cycles == images.first.cycles == swept.rows[0]["cycles"]
    assert default.input_description == "chelsea" == images.labels[0]
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert [entry["image"] for entry in manifest["images"]] == ["chelsea"]


def test_a_network_that_takes_no_image_and_stores_no_input_asks_for_an_array():
    layer = layer_from_dense("fc", np.ones((4, 8), np.float32), codebook=np.array([1.0], np.float32), kind="fc")
    wl = Workload("no-input", "test", (8,), None, [layer])
    with pytest.raises(InputDataError) as info:
        eiesim.simulate(eiesim.load_arch(TINY), wl)
    assert "no stored input" in str(info.value) and "[8]" in str(info.value) and not FLAG.search(str(info.value))


@pytest.mark.parametrize("updates, words", [
    (["num_pes=4,8"], "one value per key"),
    ({"no_such_key": 1}, "unknown key"),
    (["num_pes"], "expected KEY=VALUE"),
    ({"spmat_sram.nope": 1}, "unknown key"),
    (["fifo_depth=.inf"], "not a finite number"),
])
def test_arch_derive_errors_name_no_flags(updates, words):
    with pytest.raises(ArchError) as info:
        eiesim.load_arch(TINY).derive(updates)
    assert words in str(info.value) and not FLAG.search(str(info.value)), str(info.value)
