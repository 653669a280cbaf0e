"""Workload format v1: round trip, preserved extra keys, and bad files (WorkloadError; CLI exit 2, one line)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from eiesim.cli import main
from eiesim.errors import WorkloadError
from eiesim.network.compress import compress_layer
from eiesim.network.workload import Pool, Workload
from eiesim.network.workload_file import load_workload, save_workload

ROOT = Path(__file__).resolve().parents[1]


def small_workload() -> Workload:
    """input (2, 6, 6) -> a (4 ch, 3x3 pad 1, relu) and b (3 ch, 1x1) -> c consumes concat(a, b), max pool."""
    rng = np.random.default_rng(0)
    a = compress_layer("a", rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4), density=0.5, bits=3, padding=(1, 1))
    b = compress_layer("b", rng.normal(size=(3, 2, 1, 1)), None, density=1.0, bits=2, relu=False)
    c = compress_layer("c", rng.normal(size=(5, 7, 1, 1)), None, density=0.4, bits=4, inputs=("a", "b"),
                       pool=Pool("max", 2, 2, True))
    c.extra = {"note": "kept"}
    return Workload("small", "test", (2, 6, 6), None, [a, b, c], rng.normal(size=(2, 6, 6)).astype(np.float32),
                    extra={"custom": {"x": 1}})


@pytest.fixture
def good(tmp_path) -> Path:
    return save_workload(small_workload(), tmp_path / "good.npz")


def members_of(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def test_round_trip_and_extra_keys(good, tmp_path):
    wl = load_workload(good)
    ref = small_workload()
    assert [layer.name for layer in wl.layers] == ["a", "b", "c"]
    for x, y in zip(wl.layers, ref.layers):
        np.testing.assert_array_equal(x.dense_weights(), y.dense_weights())
        np.testing.assert_array_equal(x.bias, y.bias)
    assert wl.extra == {"custom": {"x": 1}}
    assert wl.layer("c").extra == {"note": "kept"}
    assert wl.output_shapes()["c"] == (5, 3, 3)
    again = save_workload(wl, tmp_path / "again.npz")
    assert again.read_bytes() == good.read_bytes()


def _meta_with(good: Path, edit) -> np.ndarray:
    meta = json.loads(str(members_of(good)["meta"]))
    edit(meta)
    return np.array(json.dumps(meta))


def _set_layer(i, key, value):
    def edit(meta):
        meta["layers"][i][key] = value
    return edit


BAD_CASES = {
    "non_monotone_indptr": lambda m, g: {"L0.indptr": m["L0.indptr"][[0, 2, 1, 3, 4]]},
    "indices_out_of_range": lambda m, g: {"L1.indices": m["L1.indices"] + 2},
    "codes_out_of_range": lambda m, g: {"L2.codes": np.full_like(m["L2.codes"], 200)},
    "nan_codebook": lambda m, g: {"L0.codebook": np.full_like(m["L0.codebook"], np.nan)},
    "bias_wrong_length": lambda m, g: {"L1.bias": np.zeros(2, np.float32)},
    "bad_json": lambda m, g: {"meta": np.array('{"name": "x", ')},
    "wrong_format": lambda m, g: {"format": np.array("something-else")},
    "wrong_version": lambda m, g: {"version": np.array(2)},
    "channels_do_not_add_up": lambda m, g: {"meta": _meta_with(g, _set_layer(2, "inputs", ["a"]))},
    "unknown_input": lambda m, g: {"meta": _meta_with(g, _set_layer(2, "inputs", ["a", "zzz"]))},
    "kernel_does_not_fit": lambda m, g: {"meta": _meta_with(g, _set_layer(1, "kernel", [9, 9]))},
    "input_shape_mismatch": lambda m, g: {"input": np.zeros((2, 5, 5), np.float32)},
    "missing_member": lambda m, g: {"L2.bias": None},
    "zero_codebook_value_used": lambda m, g: {"L1.codebook": np.zeros_like(m["L1.codebook"])},
    "pickled_object_array": lambda m, g: {"L0.bias": np.array([object()] * 4, dtype=object)},
}


def write_bad(good: Path, tmp_path: Path, case: str) -> Path:
    members = members_of(good)
    changes = BAD_CASES[case](members, good)
    for k, v in changes.items():
        if v is None:
            del members[k]
        else:
            members[k] = v
    path = tmp_path / f"{case}.npz"
    np.savez(path, **members)  # object arrays are pickled by numpy's writer, as a hostile file would be
    return path


EXPECTED_MESSAGE = {
    "non_monotone_indptr": "never decrease", "indices_out_of_range": "indices must lie in",
    "codes_out_of_range": "codebook size", "nan_codebook": "NaN", "bias_wrong_length": "bias has 2 entries",
    "bad_json": "not valid JSON", "wrong_format": "expected 'eiesim-workload'", "wrong_version": "version 2",
    "channels_do_not_add_up": "inputs give 4 channels but in_channels is 7", "unknown_input": "'zzz'",
    "kernel_does_not_fit": "does not fit", "input_shape_mismatch": "member 'input' has shape",
    "missing_member": "missing member 'L2.bias'", "zero_codebook_value_used": "real non-zeros",
    "pickled_object_array": "pickle",
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_file_raises_workload_error(good, tmp_path, case):
    path = write_bad(good, tmp_path, case)
    with pytest.raises(WorkloadError, match=re.escape(EXPECTED_MESSAGE[case])) as info:
        load_workload(path)
    assert info.value.source == str(path)


@pytest.mark.parametrize("case", ["non_monotone_indptr", "pickled_object_array", "channels_do_not_add_up"])
def test_bad_file_cli_exit_2_one_line(good, tmp_path, case, capsys):
    path = write_bad(good, tmp_path, case)
    with pytest.raises(SystemExit) as exc:
        main(["info", str(path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"eiesim: error: {path}: ")


def test_truncated_file(good, tmp_path, capsys):
    data = good.read_bytes()
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(WorkloadError):
        load_workload(bad)
    with pytest.raises(SystemExit) as exc:
        main(["info", str(bad)])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_documented_numpy_example_loads(tmp_path, monkeypatch):
    """The 'Writing a workload with numpy only' example in docs/workload-format.md runs and loads."""
    doc = (ROOT / "docs" / "workload-format.md").read_text()
    code = re.search(r"## Writing a workload with numpy only\s+```python\n(.*?)```", doc, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "workload-format.md", "exec"), {})
    wl = load_workload(tmp_path / "tiny.npz")
    np.testing.assert_array_equal(wl.layers[0].weights_csr().toarray(),
                                  np.array([[0.0, 0.5, 0.0, -0.25], [0.5, 0.0, 0.0, 0.0]], np.float32))
