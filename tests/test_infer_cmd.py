"""``eiesim infer``: console output, JSON report, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _support import run_cli

from eiesim.network.workload import Pool, Workload, layer_from_dense
from eiesim.network.workload_file import save_workload

NET = Path(__file__).resolve().parents[1] / "eiesim" / "data" / "squeezenet_dc" / "compressed_SqueezeNet.net"


@pytest.fixture()
def small_npz(tmp_path) -> Path:
    """conv (ReLU, 2x2 max-pool) -> fc with 6 classes; stored input chosen so that class 4 wins."""
    conv_w = np.zeros((2, 1, 1, 1), np.float32)
    conv_w[0, 0, 0, 0], conv_w[1, 0, 0, 0] = 1.0, -1.0  # channel 1 is killed by ReLU on positive inputs
    fc_w = np.zeros((6, 2 * 2 * 2), np.float32)
    fc_w[4, :4] = 0.5  # reads channel 0
    fc_w[1, 4:] = 0.5  # reads the all-zero channel 1
    layers = [
        layer_from_dense("conv", conv_w, codebook=np.array([-1.0, 1.0], np.float32), pool=Pool("max", 2, 2, False)),
        layer_from_dense("fc", fc_w, codebook=np.array([0.5], np.float32), kind="fc", inputs=("conv",), relu=False),
    ]
    x = np.arange(1, 17, dtype=np.float32).reshape(1, 4, 4) / 4
    wl = Workload("small", "test", (1, 4, 4), None, layers, input=x)
    return save_workload(wl, tmp_path / "small.npz")


def test_infer_float_json(small_npz, tmp_path, capsys):
    out_json = tmp_path / "r" / "out.json"
    code, out, err = run_cli(["infer", str(small_npz), "--json", str(out_json)], capsys)
    assert code == 0, err
    doc = json.loads(out_json.read_text())
    assert doc["workload"] == "small" and doc["precision"] == "float32" and doc["image"] is None
    # pooled channel 0 = max of each 2x2 block of x = [6, 8, 14, 16] / 4; class 4 logit = 0.5 * sum = 5.5
    assert doc["top5"][0][0] == 4
    logits = np.array([0, 0, 0, 0, 5.5, 0])
    p = np.exp(logits - 5.5) / np.exp(logits - 5.5).sum()
    assert doc["top5"][0][1] == pytest.approx(p[4], rel=1e-5)
    assert len(doc["top5"]) == 5 and [i for i, _ in doc["top5"][1:]] == [0, 1, 2, 3]
    layers = {entry["name"]: entry for entry in doc["layers"]}
    assert list(layers) == ["conv", "fc"]
    assert layers["conv"]["output_density_before_pool"] == pytest.approx(0.5)  # channel 1 all zero
    assert layers["conv"]["output_density"] == pytest.approx(0.5)
    assert layers["fc"]["output_density"] == pytest.approx(1 / 6)
    assert layers["conv"]["saturations"] is None and "fixed_point" not in doc
    assert "conv" in out and "class index" in out
    assert doc["top5_names"] is None and "ImageNet" not in out  # 6 classes: indices only, no names


def test_infer_fixed16_json_has_plan(small_npz, tmp_path, capsys):
    out_json = tmp_path / "q.json"
    code, out, err = run_cli(["infer", str(small_npz), "--precision", "fixed16", "--json", str(out_json)], capsys)
    assert code == 0, err
    doc = json.loads(out_json.read_text())
    assert doc["precision"] == "fixed16" and doc["top5"][0][0] == 4
    assert doc["layers"][0]["saturations"] == 0
    plan = doc["fixed_point"]
    assert plan["bits"] == 16 and set(plan["layers"]) == {"conv", "fc"}
    assert plan["layers"]["fc"]["in_frac"] == plan["layers"]["conv"]["out_frac"]
    assert "sat" in out


def test_infer_without_input_asks_for_an_array(small_npz, tmp_path, capsys):
    """A 1-channel network stores no input: no photo can feed it (the default photo only feeds RGB networks)."""
    from eiesim.network.workload_file import load_workload

    wl = load_workload(small_npz)
    wl.input = None
    path = save_workload(wl, tmp_path / "noinput.npz")
    code, out, err = run_cli(["infer", str(path)], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "has no stored input" in err and "[1, 4, 4]" in err and "not an image" in err


@pytest.fixture()
def rgb_npz(tmp_path) -> Path:
    """A 3-channel workload with a preprocess, so that images can feed it."""
    rng = np.random.default_rng(0)
    w = rng.choice(np.array([-1.0, 1.0], np.float32), size=(4, 3, 3, 3))
    layers = [layer_from_dense("conv", w, codebook=np.array([-1.0, 1.0], np.float32), stride=(2, 2),
                               pool=Pool("global_avg"), relu=False)]
    wl = Workload("rgb", "test", (3, 9, 9), {"resize": [10, 10], "crop": [9, 9], "scale": 255}, layers)
    return save_workload(wl, tmp_path / "rgb.npz")


def test_infer_bundled_photo(rgb_npz, tmp_path, capsys):
    out_json = tmp_path / "p.json"
    code, out, err = run_cli(["infer", str(rgb_npz), "--image", "coffee", "--json", str(out_json)], capsys)
    assert code == 0, err
    doc = json.loads(out_json.read_text())
    assert doc["image"] == "coffee" and len(doc["top5"]) == 4  # only 4 classes
    assert sum(p for _, p in doc["top5"]) == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("args, needle", [
    (["--image", "no-such-photo"], "no-such-photo: no such image file"),
    (["--precision", "fixed8"], "fixed8"),
])
def test_infer_bad_arguments(rgb_npz, capsys, args, needle):
    code, out, err = run_cli(["infer", str(rgb_npz), *args], capsys)
    assert code == 2 and err.startswith("eiesim: error: ") and err.count("\n") == 1
    assert needle in err


def test_infer_image_on_a_non_image_workload(small_npz, capsys):
    # the small workload takes a 1-channel input: an image cannot feed it
    code, out, err = run_cli(["infer", str(small_npz), "--image", "chelsea"], capsys)
    assert code == 2 and "not an image" in err


def test_infer_missing_workload(tmp_path, capsys):
    code, out, err = run_cli(["infer", str(tmp_path / "none.npz")], capsys)
    assert code == 2 and str(tmp_path / "none.npz") in err


@pytest.mark.skipif(not NET.is_file(), reason="real model file not available")
def test_infer_real_squeezenet_on_coffee(tmp_path, capsys):
    dc = pytest.importorskip("eiesim.importers.caffe.deep_compression")
    path = save_workload(dc.import_dc(NET), tmp_path / "sq.npz")
    out_json = tmp_path / "coffee.json"
    code, out, err = run_cli(["infer", str(path), "--image", "coffee", "--precision", "fixed16",
                              "--json", str(out_json)], capsys)
    assert code == 0, err
    doc = json.loads(out_json.read_text())
    assert doc["top5"][0][0] == 967  # espresso
    assert doc["top5_names"][0] == "espresso" and len(doc["top5_names"]) == 5
    assert "espresso" in out and "ImageNet" in out
    assert len(doc["layers"]) == 26


def test_imagenet_class_names_are_the_ilsvrc_list_with_source_and_licence():
    from eiesim.network.class_names import IMAGENET_CLASSES_FILE, class_names_for, imagenet_class_names

    names = imagenet_class_names()
    # ILSVRC-2012 indices (sorted WordNet ids), as every ImageNet classifier numbers them
    assert (names[0], names[1], names[281], names[285], names[967], names[999]) == (
        "tench", "goldfish", "tabby", "Egyptian cat", "espresso", "toilet tissue")
    assert len(set(names)) == 1000 and class_names_for(1000) == names and class_names_for(10) is None
    provenance = (IMAGENET_CLASSES_FILE.parent / "PROVENANCE.md").read_text()
    assert "torchvision" in provenance and "BSD 3-clause" in provenance
    assert "BSD 3-Clause License" in (IMAGENET_CLASSES_FILE.parent / "LICENSE-torchvision").read_text()
