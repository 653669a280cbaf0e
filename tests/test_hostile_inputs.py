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
from _support import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eiesim.config.arch import arch_from_dict
from eiesim.errors import ArchError, WorkloadError
from eiesim.network.workload_file import load_workload, save_workload

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


#: What each corpus file's one error line must say: the damage that file was made with
#: (tests/corpus/make_corpus.py), not just that it failed. A new corpus file needs an entry here.
#: A tuple lists parts that must all be there: for a value pydantic refuses, eiesim names the key and the
#: field's meaning, unit and bounds around pydantic's own words, which its releases may change.
PROBLEM = {
    "wl-bias-inf.npz": "L1.bias holds NaN or Inf",
    "wl-bias-wrong-length.npz": "L1.bias has 5 entries, expected out_channels = 3",
    "wl-billion-entries.npz": "declares shape (1000000000,)",
    "wl-channels-mismatch.npz": "inputs flatten to 16 values but in_channels is 17",
    "wl-code-out-of-range.npz": "L0.codes must be < codebook size 4",
    "wl-codebook-nan.npz": "L0.codebook holds NaN or Inf",
    "wl-codes-hit-zero-weight.npz": "some codes point to a zero codebook value",
    "wl-concat-spatial-mismatch.npz": "concatenated inputs have different spatial sizes",
    "wl-duplicate-names.npz": "duplicate name 'conv'",
    "wl-empty-file.npz": "not a readable .npz archive",
    "wl-fc-inputs-mismatch.npz": "inputs flatten to 48 values but in_channels is 16",
    "wl-fc-with-kernel.npz": "an fc layer has kernel [1, 1]",
    "wl-header-garbage.npz": "member 'L0.indices' is not a valid .npy array",
    "wl-index-duplicate.npz": "L0.indices must be strictly increasing within each row",
    "wl-index-float.npz": "L0.indices must hold integers, got float32",
    "wl-index-out-of-range.npz": "L0.indices must lie in [0, 18)",
    "wl-indptr-2d.npz": "'L0.indptr' must be one-dimensional",
    "wl-indptr-not-monotone.npz": "L0.indptr must start at 0 and never decrease",
    "wl-indptr-wrong-length.npz": "L0.indptr has 4 entries, expected out_channels + 1 = 5",
    "wl-input-nan.npz": "member 'input' holds NaN or Inf",
    "wl-input-shape-bad.npz": "'meta.input.shape' must be [C, H, W] or [K]",
    "wl-input-wrong-shape.npz": "member 'input' has shape (3, 3), expected (2, 4, 4)",
    # lstm is a layer kind since issue 24 (recurrent layers); this conv-shaped one is refused as an lstm.
    "wl-layer-kind-lstm.npz": "an lstm layer has kernel [1, 1], stride [1, 1], padding [0, 0]",
    "wl-layer-missing-relu.npz": "missing keys ['relu']",
    "wl-layers-empty.npz": "'meta.layers' must be a list of 1..10000 layers",
    "wl-meta-is-list.npz": "'meta' must be a JSON object",
    "wl-meta-no-layers.npz": "'meta' is missing 'layers'",
    "wl-meta-not-json.npz": "'meta': not valid JSON",
    "wl-missing-format.npz": "missing member 'format'",
    "wl-missing-member.npz": "missing member 'L1.codes'",
    "wl-negative-channels.npz": "'in_channels' must be an integer in [1, 16777216], got -2",
    "wl-not-a-zip.npz": "not a readable .npz archive",
    "wl-pickled-object.npz": "holds Python objects (pickled data)",
    "wl-pool-too-big.npz": "pool kernel 9 larger than the 4x4 map",
    "wl-truncated.npz": "not a readable .npz archive",
    "wl-unknown-input.npz": "input 'nowhere' is not the network input or an earlier layer",
    "wl-version-2.npz": "format version 2 is not supported",
    "wl-wrong-format.npz": "'format' is 'some-other-tool', expected 'eiesim-workload'",
    "arch-bad-tech.yaml": "tech_nm must be one of",
    "arch-binary.yaml": "not a UTF-8 text architecture file",
    "arch-entry-too-wide.yaml": "spmat_sram.width_bits (8) must hold one entry",
    "arch-list.yaml": "an architecture must be a YAML mapping of keys to values",
    "arch-nested-unknown-key.yaml": "unknown key 'spmat_sram.widht_bits'",
    "arch-not-yaml.yaml": "not valid YAML at line 2",
    "arch-python-tag.yaml": "python/object/apply:os.system' is not allowed",
    "arch-section-scalar.yaml": ("timing: ", "(Timing-model latencies)"),
    "arch-unknown-key.yaml": "unknown key 'num_pe'",
    "arch-wrong-type.yaml": ("fifo_depth: ", ", unit entry; ge 1, le 4096)"),
    "arch-zero-pes.yaml": ("num_pes: ", "(Processing elements, unit 1; ge 1, le 4096)"),
    "net-billion-nnz.net": "header claims 1000000000 entries but the layer has only 14112 weights",
    "net-empty.net": "file has 0 bytes, too short for the 26-entry header",
    "net-short-header.net": "file has 12 bytes, too short for the 26-entry header",
    "net-text.net": "header claims 1701667182 entries",
}


def test_corpus_has_at_least_30_kinds():
    assert len(WORKLOADS) + len(ARCHES) + len(NETS) >= 30
    assert sorted(p.name for p in WORKLOADS + ARCHES + NETS) == sorted(PROBLEM)


def assert_reports(err: str, path: Path) -> None:
    """The one error line names this file's damage (``PROBLEM``)."""
    expected = PROBLEM[path.name]
    for part in (expected,) if isinstance(expected, str) else expected:
        assert part in err, (path.name, err)


@pytest.mark.parametrize("path", WORKLOADS, ids=lambda p: p.name)
def test_bad_workload_info(path, capsys):
    code, out, err = run_cli(["info", str(path)], capsys)
    assert_clean_error(code, err, path)
    assert_reports(err, path)


@pytest.mark.parametrize("path", WORKLOADS, ids=lambda p: p.name)
def test_bad_workload_run_writes_nothing(path, tmp_path, capsys):
    out_json = tmp_path / "report.json"
    code, out, err = run_cli(["run", str(TINY_ARCH), str(path), "--json", str(out_json)], capsys)
    assert_clean_error(code, err, path)
    assert_reports(err, path)
    assert not out_json.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ARCHES, ids=lambda p: p.name)
def test_bad_arch_run(path, base_workload_path, tmp_path, capsys):
    out_json = tmp_path / "report.json"
    code, out, err = run_cli(["run", str(path), str(base_workload_path), "--json", str(out_json)], capsys)
    assert_clean_error(code, err, path)
    assert_reports(err, path)
    assert not out_json.exists()


@pytest.mark.parametrize("path", NETS, ids=lambda p: p.name)
def test_bad_net_import(path, tmp_path, capsys):
    out = tmp_path / "out.npz"
    code, _, err = run_cli(["import-dc", str(path), "-o", str(out)], capsys)
    assert_clean_error(code, err, path)
    assert_reports(err, path)
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


#: The examples reuse a per-test tmp_path (each writes and reads its own file); busy machines are not failures.
FIXTURE_AND_SLOW = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE_AND_SLOW)
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


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE_AND_SLOW)
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


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE_AND_SLOW)
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


@settings(max_examples=200, deadline=None, suppress_health_check=FIXTURE_AND_SLOW)
@given(text=st.text(max_size=200))
def test_fuzz_arch_yaml_text(tmp_path, text):
    from eiesim.config.arch import load_arch

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
