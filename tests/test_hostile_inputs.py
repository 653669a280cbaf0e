"""Hostile and malformed inputs: every one gives the clean error and writes nothing.

The corpus (tests/corpus, made by tests/corpus/make_corpus.py) holds one file per kind of
damage. Each is fed to the command that reads it, in-process through the CLI entry point:
exit code 2, exactly one line on stderr of the form ``eiesim: error: <file>: <problem>``,
no traceback, and the requested output file is not created.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eiesim.arch import arch_from_dict
from eiesim.errors import ArchError, WorkloadError
from eiesim.workload import load_workload, save_workload
from _support import run_cli

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"
TINY_ARCH = ROOT / "arch_configs" / "tiny-4pe.yaml"

WORKLOADS = sorted(CORPUS.glob("wl-*.npz"))
ARCHES = sorted(CORPUS.glob("arch-*.yaml"))
NETS = sorted(CORPUS.glob("net-*.net"))


def assert_clean_error(code: int, err: str, path: Path | None) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("eiesim: error: ")
    assert "Traceback" not in err
    if path is not None:
        assert str(path) in lines[0]


@pytest.fixture(scope="module")
def base_workload_path(tmp_path_factory) -> Path:
    import sys

    sys.path.insert(0, str(CORPUS))
    from make_corpus import base_workload

    path = tmp_path_factory.mktemp("base") / "base.npz"
    save_workload(base_workload(), path)
    return path


def test_corpus_has_at_least_30_kinds():
    assert len(WORKLOADS) + len(ARCHES) + len(NETS) >= 30


@pytest.mark.parametrize("path", WORKLOADS, ids=lambda p: p.name)
def test_bad_workload_info(path, capsys):
    code, out, err = run_cli(["info", str(path)], capsys)
    assert_clean_error(code, err, path)


@pytest.mark.parametrize("path", WORKLOADS, ids=lambda p: p.name)
def test_bad_workload_run_writes_nothing(path, tmp_path, capsys):
    out_json = tmp_path / "report.json"
    code, out, err = run_cli(["run", str(TINY_ARCH), str(path), "--json", str(out_json)], capsys)
    assert_clean_error(code, err, path)
    assert not out_json.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ARCHES, ids=lambda p: p.name)
def test_bad_arch_run(path, base_workload_path, tmp_path, capsys):
    out_json = tmp_path / "report.json"
    code, out, err = run_cli(["run", str(path), str(base_workload_path), "--json", str(out_json)], capsys)
    assert_clean_error(code, err, path)
    assert not out_json.exists()


@pytest.mark.parametrize("path", NETS, ids=lambda p: p.name)
def test_bad_net_import(path, tmp_path, capsys):
    out = tmp_path / "out.npz"
    code, _, err = run_cli(["import-dc", str(path), "-o", str(out)], capsys)
    assert_clean_error(code, err, path)
    assert not out.exists()


@pytest.mark.parametrize("args", [
    ["run", str(TINY_ARCH), "{wl}", "--set", "no_such_key=1"],
    ["run", str(TINY_ARCH), "{wl}", "--set", "num_pes=-3"],
    ["run", str(TINY_ARCH), "{wl}", "--set", "num_pes"],
    ["run", str(TINY_ARCH), "{wl}", "--engine", "warp"],
    ["run", str(TINY_ARCH), "{wl}", "--image", "/no/such/image.png"],
    ["run", str(TINY_ARCH), "/no/such/workload.npz"],
    ["infer", "{wl}", "--precision", "fp8"],
    ["infer", "{wl}", "--image", "not-a-bundled-photo"],
    ["sweep", str(TINY_ARCH), "{wl}", "--set", "num_pes="],
    ["sweep", str(TINY_ARCH), "{wl}", "--workers", "0"],
    ["workload", "no-such-workload", "-o", "{tmp}/x.npz"],
], ids=lambda a: " ".join(a[:1] + a[3:5]))
def test_bad_cli_values(args, base_workload_path, tmp_path, capsys):
    args = [a.format(wl=base_workload_path, tmp=tmp_path) for a in args]
    code, _, err = run_cli(args, capsys)
    assert_clean_error(code, err, None)
    assert list(tmp_path.iterdir()) == []


# -- property-based fuzzing of the loaders ---------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def base_members(base_workload_path) -> dict[str, np.ndarray]:
    with np.load(base_workload_path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def load_or_clean_error(path: Path) -> None:
    """The property every fuzz case checks: a workload loads, or WorkloadError is raised (nothing else)."""
    try:
        load_workload(path)
    except WorkloadError as exc:
        assert "\n" not in exc.one_line()


def _write(path: Path, members: dict[str, np.ndarray]) -> None:
    np.savez(path, **members)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layer=st.integers(0, 1), key=st.sampled_from(["name", "kind", "in_channels", "out_channels", "kernel",
                                                      "stride", "padding", "inputs", "relu", "pool"]),
       value=json_values)
def test_fuzz_layer_meta(tmp_path, base_members, layer, key, value):
    meta = json.loads(base_members["meta"].item())
    meta["layers"][layer][key] = value
    members = dict(base_members, meta=np.array(json.dumps(meta)))
    path = tmp_path / "fuzz.npz"
    _write(path, members)
    load_or_clean_error(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(member=st.sampled_from(["L0.indptr", "L0.indices", "L0.codes", "L0.codebook", "L0.bias", "L1.indptr",
                               "L1.indices", "input", "version", "format"]),
       dtype=st.sampled_from(["i1", "u1", "i4", "i8", "u8", "f4", "f8", "U3", "?"]),
       shape=st.lists(st.integers(0, 6), min_size=0, max_size=3),
       fill=st.integers(-300, 300) | st.floats(allow_nan=True, allow_infinity=True))
def test_fuzz_member_arrays(tmp_path, base_members, member, dtype, shape, fill):
    try:
        with np.errstate(invalid="ignore", over="ignore"):  # casting NaN/huge fills is the point here
            arr = np.full(shape, fill).astype(dtype)
    except (OverflowError, ValueError):
        return
    members = dict(base_members)
    members[member] = arr
    path = tmp_path / "fuzz.npz"
    _write(path, members)
    load_or_clean_error(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_raw_bytes(tmp_path, base_workload_path, data):
    raw = bytearray(base_workload_path.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    path = tmp_path / "fuzz.npz"
    path.write_bytes(bytes(raw[:cut]) if data.draw(st.booleans()) else bytes(raw))
    load_or_clean_error(path)


arch_keys = st.sampled_from(["num_pes", "clock_mhz", "tech_nm", "fifo_depth", "codebook_bits", "rel_index_bits",
                             "datapath_bits", "act_regs_per_pe", "spmat_sram", "ptr_sram", "act_sram", "timing",
                             "dram", "cost_model", "name", "bogus"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(arch_keys, json_values, max_size=5))
def test_fuzz_arch_dict(data):
    try:
        arch_from_dict(data)
    except ArchError as exc:
        assert "\n" not in exc.one_line()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_fuzz_arch_yaml_text(tmp_path, text):
    from eiesim.arch import load_arch

    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_arch(path)
    except ArchError:
        pass


def test_zip_bomb_member_refused(tmp_path, base_members):
    path = tmp_path / "bomb.npz"
    members = dict(base_members, input=np.zeros(40_000_000, np.uint8))
    np.savez_compressed(path, **members)
    with pytest.raises(WorkloadError, match="expands"):
        load_workload(path)
