"""Hostile YAML, JSON, CSV and prototxt: one loading path per file kind, one clean line from every command.

Each damaged text is fed to every command that reads that kind of file, the way a user
runs them (in-process through the CLI entry point): exit code 2, one line on stderr of
the form ``eiesim: error: <file>: <problem>``, no traceback, and nothing written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _support import run_cli

from eiesim.errors import ArchError, UsageError
from eiesim.inputs.text import MAX_DEPTH, parse_json, parse_yaml
from eiesim.network.synthetic import eie_fc_layer
from eiesim.network.workload_file import save_workload

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"


def assert_one_line(code: int, err: str, path: Path | str | None) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("eiesim: error: ") and "Traceback" not in err
    if path is not None:
        assert str(path) in lines[0]
    return lines[0]


#: Damaged YAML texts (bytes) and a word the error must contain.
BAD_YAML = {
    "syntax": (b"num_pes: [1\n", "not valid YAML at line 2"),
    "python-tag": (b"num_pes: !!python/object/apply:os.system ['echo hacked']\n", "python/object/apply:os.system' is not allowed"),
    "custom-tag": (b"num_pes: !shell 4\n", "tag"),
    "non-utf8": (b"name: \xff\xfe\n", "not a UTF-8"),
    "list-at-top": (b"- 1\n- 2\n", "mapping"),
    "deep-nesting": (b"name: " + b"[" * 100_000 + b"]" * 100_000 + b"\n", f"more than {MAX_DEPTH} levels"),
    "huge-integer": (b"num_pes: " + b"7" * 100_000 + b"\n", "cannot be converted"),
    "duplicate-key": (b"num_pes: 4\ncodebook_bits: 8\nnum_pes: 2\n", "line 3: duplicate key 'num_pes'"),
    "nested-duplicate": (b"spmat_sram:\n  width_bits: 64\n  width_bits: 128\n", "line 3: duplicate key 'width_bits'"),
    "two-documents": (b"num_pes: 4\n---\nnum_pes: 8\n", "second YAML document"),
    "alias-bomb": (b"a: &a [1,1,1,1,1,1,1,1,1,1]\n" + b"".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n".encode() for i in range(7)),
        "alias"),
}


@pytest.fixture(scope="module")
def fc_npz(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wl") / "fc.npz"
    save_workload(eie_fc_layer("fc", 64, 32, 0.3, 0.5, bits=4, seed=1), path)
    return path


@pytest.mark.parametrize("case", sorted(BAD_YAML))
@pytest.mark.parametrize("command", ["run", "sweep", "trace"])
def test_bad_arch_yaml_is_one_line_for_every_command(case, command, fc_npz, tmp_path, capsys):
    text, expected = BAD_YAML[case]
    arch = tmp_path / f"{case}.yaml"
    arch.write_bytes(text)
    out = tmp_path / "out"
    args = {
        "run": ["run", str(arch), str(fc_npz), "--json", str(out)],
        "sweep": ["sweep", str(arch), str(fc_npz), "--set", "fifo_depth=4,8", "--out", str(out), "--workers", "1"],
        "trace": ["trace", str(arch), str(fc_npz), "--layer", "fc", "-o", str(out)],
    }[command]
    code, _, err = run_cli(args, capsys)
    line = assert_one_line(code, err, arch)
    assert expected in line
    assert not out.exists()


def test_duplicate_key_in_density_profile_names_file_line_and_key(fc_npz, tmp_path, capsys):
    dense = tmp_path / "dense.npz"
    code, _, err = run_cli(["export-dense", str(fc_npz), "-o", str(dense)], capsys)
    assert code == 0, err
    profile = tmp_path / "profile.yaml"
    profile.write_text("fc: 0.5\nfc: 0.1\n")
    code, _, err = run_cli(["compress", str(dense), "-o", str(tmp_path / "c.npz"), "--density-profile",
                            str(profile)], capsys)
    line = assert_one_line(code, err, profile)
    assert "line 2: duplicate key 'fc' (first given at line 1)" in line
    assert not (tmp_path / "c.npz").exists()


@pytest.mark.parametrize("case", ["deep-nesting", "huge-integer", "non-utf8", "python-tag"])
def test_bad_density_profile(case, fc_npz, tmp_path, capsys):
    dense = tmp_path / "dense.npz"
    run_cli(["export-dense", str(fc_npz), "-o", str(dense)], capsys)
    profile = tmp_path / "profile.yaml"
    profile.write_bytes(BAD_YAML[case][0].replace(b"num_pes", b"fc").replace(b"name", b"fc"))
    code, _, err = run_cli(["compress", str(dense), "-o", str(tmp_path / "c.npz"), "--density-profile",
                            str(profile)], capsys)
    assert_one_line(code, err, profile)


@pytest.mark.parametrize("text", [
    "a: 1\nb: [1, 2.5, -3, 0x1f, 1e3, .inf, ~, true, no, 2001-12-14, '3', \"x\\ty\"]\nc: {d: null, e: !!str 5}\n",
    "base: &b {x: 1, y: 2}\nother: &o {y: 3, z: 4}\nuse:\n  <<: [*b, *o]\n  x: 9\n",
    "- &a [1, 2]\n- *a\n- {k: *a}\n",
    "just a scalar\n",
    "",
    "empty:\nlist: []\nmap: {}\nbinary: !!binary aGVsbG8=\n",
])
def test_values_are_those_of_yaml_safe_load(text):
    """The event-built values equal yaml.safe_load's (an independent implementation)."""
    import yaml

    assert parse_yaml(text) == yaml.safe_load(text)


def test_the_parser_rejects_what_safe_load_silently_accepts():
    with pytest.raises(ArchError, match="duplicate key 'a'"):
        parse_yaml("a: 1\nb: 2\na: 3\n", "x.yaml", ArchError)
    assert parse_yaml("a: 1\nb: [1, 2]\nc: {d: null}\n") == {"a": 1, "b": [1, 2], "c": {"d": None}}
    assert parse_yaml("base: &b {x: 1}\nuse:\n  <<: *b\n  y: 2\n") == {"base": {"x": 1}, "use": {"x": 1, "y": 2}}
    assert parse_yaml("") is None


#: Deep nesting in several shapes, and the line of the collection that opens level MAX_DEPTH + 1 (counted by hand).
#: Some stay within libyaml's own limit (1,000 levels in recent releases) and some go beyond it, some on one
#: line (where the parser reads far ahead of what it hands over) and some over many lines.
DEEP_YAML = {
    "flow-150-one-line": ("a: " + "[" * 150 + "]" * 150 + "\n", 1),
    "flow-5000-one-line": ("a: " + "[" * 5000 + "]" * 5000 + "\n", 1),
    "flow-mappings-2000": ("a:\n  b: " + "{k: " * 2000 + "1" + "}" * 2000 + "\n", 2),
    "flow-2000-one-per-line": ("x: 1\ny: " + "[\n" * 2000 + "]" * 2000 + "\n", 101),
    "after-quoted-brackets": ("a: '[[[[ '' [[['\nb: \"[[\\\" [[\"\nc: " + "[" * 3000 + "]" * 3000 + "\n", 3),
    "block-mappings-150": ("".join(" " * i + "k:\n" for i in range(150)) + " " * 150 + "v\n", 101),
    "block-then-flow": ("".join(" " * i + "k:\n" for i in range(60)) + " " * 60 + "[" * 1500 + "]" * 1500 + "\n", 61),
}


@pytest.mark.parametrize("case", sorted(DEEP_YAML))
def test_deep_nesting_is_reported_in_eiesims_words_and_line(case):
    """Whichever of eiesim's guard or the parser's own limit meets the nesting first, the message is eiesim's."""
    text, line = DEEP_YAML[case]
    with pytest.raises(ArchError) as info:
        parse_yaml(text, "deep.yaml", ArchError)
    assert str(info.value) == f"deep.yaml: line {line}: nested more than {MAX_DEPTH} levels deep"


@pytest.mark.parametrize("text", [
    "a: \"" + "[" * 3000 + "\n",  # the brackets are inside a quoted scalar that never ends
    "# " + "[" * 3000 + "\nnum_pes: [1\n",  # the brackets are a comment; the error is the unclosed list
    "a: " + "[" * 50 + "\n",  # shallow and unclosed
])
def test_other_damage_among_many_brackets_is_not_called_nesting(text):
    with pytest.raises(ArchError) as info:
        parse_yaml(text, "bad.yaml", ArchError)
    assert str(info.value).startswith("bad.yaml: not valid YAML at line ")


#: Damaged JSON texts and a word the error must contain.
BAD_JSON = {
    "deep-nesting": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "huge-integer": ('{"totals": {}, "layers": [], "x": ' + "1" * 100_000 + "}", "cannot be converted"),
    "syntax": ('{"totals": ', "not valid JSON"),
    "not-utf8": (b"\xff\xfe{}".decode("latin-1"), "not a UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_JSON))
def test_bad_json_report(case, tmp_path, capsys):
    text, expected = BAD_JSON[case]
    path = tmp_path / "report.json"
    path.write_bytes(text.encode("latin-1") if case == "not-utf8" else text.encode())
    code, _, err = run_cli(["report", str(path), "-o", str(tmp_path / "r.html")], capsys)
    assert expected in assert_one_line(code, err, path)
    assert not (tmp_path / "r.html").exists()


def test_deep_json_inside_a_workload(tmp_path, capsys):
    """The workload's meta is JSON inside the npz: the same loader, the same clean line."""
    path = tmp_path / "deep.npz"
    np.savez(path, format=np.array("eiesim-workload"), version=np.array(1), meta=np.array("[" * 50_000 + "]" * 50_000))
    code, _, err = run_cli(["info", str(path)], capsys)
    assert "'meta': JSON nested too deeply" in assert_one_line(code, err, path)


def test_parse_json_messages():
    with pytest.raises(UsageError, match="line 2, column 1"):
        parse_json('{"a": 1,\n}', "f.json", UsageError)
    assert parse_json('{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}


def test_ragged_results_csv_is_one_line(tmp_path, capsys):
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    (sweep_dir / "results.csv").write_text("num_pes,cycles\n1,100\n2,50,extra\n")
    code, _, err = run_cli(["report", str(sweep_dir), "-o", str(tmp_path / "r.html")], capsys)
    line = assert_one_line(code, err, sweep_dir / "results.csv")
    assert "line 3 has 3 cells but the header has 2" in line


@pytest.mark.parametrize("content, expected", [
    ('name: "a\\xZZ"\n', "line 1: bad escape sequence"),
    ("name: \"a\"\ninput_dim: " + "9" * 100_000 + "\n", "line 2: the integer"),
    ("name: \"a\"\ninput_dim: 99999999999999999999\n", "out of range"),
])
def test_bad_prototxt(content, expected, tmp_path, capsys):
    proto = tmp_path / "deploy.prototxt"
    proto.write_text(content)
    net = tmp_path / "model.net"
    net.write_bytes(b"\0" * 64)
    code, _, err = run_cli(["import-dc", str(net), "--prototxt", str(proto), "-o", str(tmp_path / "o.npz")], capsys)
    assert expected in assert_one_line(code, err, None)
    assert not (tmp_path / "o.npz").exists()


def test_bad_preprocess_json(tmp_path):
    pytest.importorskip("onnx")
    pre = tmp_path / "pre.json"
    pre.write_text("[" * 100_000 + "]" * 100_000)
    from eiesim.cli.onnx_cmds import load_preprocess

    with pytest.raises(UsageError, match="nested more than"):
        load_preprocess(str(pre))
    with pytest.raises(UsageError, match="--preprocess: line 1: duplicate key"):
        load_preprocess('{"mean": [1, 2, 3], "mean": [0, 0, 0]}')


def test_json_is_still_accepted_where_yaml_is(fc_npz, tmp_path, capsys):
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"num_pes": 2, "codebook_bits": 4}))
    code, out, err = run_cli(["run", str(arch), str(fc_npz), "--no-check"], capsys)
    assert code == 0, err
    assert "(2 PEs" in out



from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(value=_yaml_values, flow=st.sampled_from([None, True, False]))
def test_any_dumped_document_reads_back_as_yaml_safe_load_reads_it(value, flow):
    import yaml

    text = yaml.safe_dump(value, default_flow_style=flow, allow_unicode=True)
    assert parse_yaml(text) == yaml.safe_load(text)


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_huge_integer_in_set_is_one_line(command, fc_npz, tmp_path, capsys):
    value = "1" * 100_000
    args = (["run", str(TINY), str(fc_npz), "--set", f"num_pes={value}"] if command == "run" else
            ["sweep", str(TINY), str(fc_npz), "--set", f"num_pes=1,{value}", "--out", str(tmp_path / "s")])
    code, _, err = run_cli(args, capsys)
    assert "the value cannot be converted" in assert_one_line(code, err, None)


@pytest.mark.parametrize("files", [
    {"results.csv": "a,b\n1,2\n"},                                    # somebody else's table
    {"results.csv": "point,time_us\np1,2.5\n"},                       # no cycles
    {"results.jsonl": '{"point": "p", "cycles": 3}\n', "manifest.json": '{"kind": "other"}'},
])
def test_report_refuses_a_folder_that_is_not_an_eiesim_sweep(files, tmp_path, capsys):
    """Issue 22: any folder with a results.csv was rendered as 'a sweep of 1 points'."""
    folder = tmp_path / "data"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    code, _, err = run_cli(["report", str(folder), "-o", str(tmp_path / "r.html")], capsys)
    line = assert_one_line(code, err, folder / "manifest.json" if "manifest.json" in files else folder)
    assert "not an eiesim sweep" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
