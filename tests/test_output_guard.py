"""Outputs never destroy a command's inputs or special files (issue 22, items 1 and 2).

Each test performs the fault the way a user would (in-process through the CLI entry point)
and then checks that nothing was lost, mixed or left behind: the exit code is 2 with one
``eiesim: error:`` line, every input keeps its bytes, the special file keeps its kind, and the
directory holds exactly what it held before (no output, no temporary).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from _support import run_cli

from eiesim.network.dense import dense_from_workload, save_dense
from eiesim.network.synthetic import eie_fc_layer
from eiesim.network.workload_file import save_workload

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"


def one_error_line(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eiesim: error: "), err
    return lines[0]


def snapshot(directory: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every entry of ``directory``: its file type and, for a regular file, its bytes (links not followed)."""
    out: dict[str, tuple[int, bytes | str]] = {}
    for entry in sorted(os.listdir(directory)):
        path = directory / entry
        st = os.lstat(path)
        kind = stat.S_IFMT(st.st_mode)
        if stat.S_ISREG(st.st_mode):
            out[entry] = (kind, path.read_bytes())
        elif stat.S_ISLNK(st.st_mode):
            out[entry] = (kind, os.readlink(path))
        else:
            out[entry] = (kind, b"")
    return out


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    """A work directory with an architecture, a workload and a dense model, as a user would have."""
    arch = tmp_path / "arch.yaml"
    arch.write_bytes(TINY.read_bytes())
    wl = eie_fc_layer("fc", 32, 16, 0.3, 0.5, bits=4, seed=1)
    save_workload(wl, tmp_path / "fc.npz")
    save_dense(dense_from_workload(wl), tmp_path / "dense.npz")
    return {"dir": tmp_path, "arch": arch, "wl": tmp_path / "fc.npz", "dense": tmp_path / "dense.npz"}


#: Commands writing over one of their inputs: (argv with {arch}/{wl}/{dense}/{out}, the input named by {out}).
OVERWRITES = {
    "run --json workload": (["run", "{arch}", "{wl}", "--json", "{out}"], "wl"),
    "run --json arch": (["run", "{arch}", "{wl}", "--json", "{out}"], "arch"),
    "infer --json workload": (["infer", "{wl}", "--json", "{out}"], "wl"),
    "trace -o arch": (["trace", "{arch}", "{wl}", "--layer", "fc", "-o", "{out}"], "arch"),
    "compress -o dense": (["compress", "{dense}", "-o", "{out}", "--density", "0.5"], "dense"),
    "export-dense -o workload": (["export-dense", "{wl}", "-o", "{out}"], "wl"),
    "export-onnx -o workload": (["export-onnx", "{wl}", "-o", "{out}"], "wl"),
    "sweep --json arch": (["sweep", "{arch}", "{wl}", "--set", "fifo_depth=4,8", "--out", "{dir}/sw", "--json",
                           "{out}"], "arch"),
}


def _argv(template: list[str], files: dict[str, Path], out: Path) -> list[str]:
    names = {k: str(v) for k, v in files.items()} | {"out": str(out)}
    return [part.format(**names) for part in template]


@pytest.mark.parametrize("how", ["same path", "other spelling", "symlink", "hard link"])
@pytest.mark.parametrize("case", sorted(OVERWRITES))
def test_no_command_writes_over_its_input(case, how, files, capsys, monkeypatch):
    template, victim = OVERWRITES[case]
    if "onnx" in case:
        pytest.importorskip("onnx")
    target = files[victim]
    if how == "other spelling":
        monkeypatch.chdir(files["dir"])
        out = Path(".") / "sub" / ".." / target.name
        (files["dir"] / "sub").mkdir()
    elif how == "symlink":
        out = files["dir"] / "link-to-input"
        out.symlink_to(target)
    elif how == "hard link":
        out = files["dir"] / "hard-link-to-input"
        os.link(target, out)
    else:
        out = target
    before = snapshot(files["dir"])
    code, _, err = run_cli(_argv(template, files, out), capsys)
    line = one_error_line(code, err)
    assert "would destroy it" in line and str(target.name) in line
    assert snapshot(files["dir"]) == before  # the input intact, nothing written, no temporary left


def test_run_metadata_file_never_replaces_an_input(files, capsys):
    """``run --json r.json`` also writes ``r.run.json``: that one must not be an input either."""
    arch = files["dir"] / "r.run.json"
    arch.write_bytes(TINY.read_bytes())
    before = snapshot(files["dir"])
    code, _, err = run_cli(["run", str(arch), str(files["wl"]), "--json", str(files["dir"] / "r.json")], capsys)
    assert "would destroy it" in one_error_line(code, err)
    assert snapshot(files["dir"]) == before


def test_output_directory_holding_an_input_is_refused(files, capsys):
    """``run --out DIR`` replaces DIR as a whole: a DIR holding one of the inputs is refused, even when
    the input has a name a run directory holds (so only the input check can refuse it)."""
    out_dir = files["dir"] / "run"
    out_dir.mkdir()
    image = out_dir / "report.json"
    image.write_text("mine\n")
    before = snapshot(out_dir)
    code, _, err = run_cli(["run", str(files["arch"]), str(files["wl"]), "--image", str(image), "--out",
                            str(out_dir)], capsys)
    assert "would destroy it" in one_error_line(code, err)
    assert snapshot(out_dir) == before


# -- special files at output paths --------------------------------------------------

def _device_or_fifo(path: Path) -> str:
    """A character device node (the numbers of /dev/null) where the test runs as root, else a FIFO."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        return "device"
    os.mkfifo(path)
    return "fifo"


SPECIAL = ["device-or-fifo", "fifo", "symlink to /dev/null", "dangling symlink"]


def _make_special(kind: str, path: Path) -> None:
    if kind == "device-or-fifo":
        _device_or_fifo(path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink to /dev/null":
        path.symlink_to("/dev/null")
    else:
        path.symlink_to(path.parent / "nowhere")


@pytest.mark.parametrize("kind", SPECIAL)
@pytest.mark.parametrize("command", ["infer --json", "run --json", "export-dense -o", "sweep --json"])
def test_special_file_at_output_path_is_refused_and_kept(kind, command, files, capsys):
    special = files["dir"] / "special"
    _make_special(kind, special)
    argv = {
        "infer --json": ["infer", str(files["wl"]), "--json", str(special)],
        "run --json": ["run", str(files["arch"]), str(files["wl"]), "--json", str(special)],
        "export-dense -o": ["export-dense", str(files["wl"]), "-o", str(special)],
        "sweep --json": ["sweep", str(files["arch"]), str(files["wl"]), "--set", "fifo_depth=4,8", "--out",
                         str(files["dir"] / "sw"), "--json", str(special)],
    }[command]
    before = snapshot(files["dir"])
    code, _, err = run_cli(argv, capsys)
    line = one_error_line(code, err)
    assert "special" in line
    assert snapshot(files["dir"]) == before  # the node (or link) is still there, of the same kind


def test_dash_is_refused_not_written_as_a_file(files, capsys, monkeypatch):
    monkeypatch.chdir(files["dir"])
    before = snapshot(files["dir"])
    code, _, err = run_cli(["infer", str(files["wl"]), "--json", "-"], capsys)
    assert "standard output" in one_error_line(code, err)
    assert snapshot(files["dir"]) == before


def test_symlink_to_a_regular_file_is_replaced_and_its_target_kept(files, capsys):
    """The documented rule: the link is replaced by the new file; the file it pointed to is unchanged."""
    kept = files["dir"] / "old.json"
    kept.write_text("old contents\n")
    link = files["dir"] / "out.json"
    link.symlink_to(kept)
    code, _, err = run_cli(["infer", str(files["wl"]), "--json", str(link)], capsys)
    assert code == 0, err
    assert kept.read_text() == "old contents\n"
    assert not link.is_symlink() and link.is_file()
    assert '"layers"' in link.read_text()


# -- the library's writers apply the same rule ----------------------------------------

def _library_writers(files: dict[str, Path]):
    """Every public library call that writes a file, as a script would call it."""
    import eiesim
    from eiesim.importers.onnx.export import export_onnx

    wl = eiesim.load_workload(files["wl"])
    dense = dense_from_workload(wl)
    return {
        "eiesim.save_workload": lambda path: eiesim.save_workload(wl, path),
        "save_dense": lambda path: save_dense(dense, path),
        "export_onnx": lambda path: export_onnx(wl, path),
    }


@pytest.mark.parametrize("kind", SPECIAL)
@pytest.mark.parametrize("writer", ["eiesim.save_workload", "save_dense", "export_onnx"])
def test_library_writer_refuses_a_special_file_and_keeps_it(kind, writer, files):
    """A script's ``save_workload(wl, "/dev/null")`` raised nothing and renamed a regular file over the node
    (issue 22, item 2, seen through the library): now it raises OutputError and the node stays."""
    from eiesim.errors import OutputError

    if writer == "export_onnx":
        pytest.importorskip("onnx")
    special = files["dir"] / "special"
    _make_special(kind, special)
    before = snapshot(files["dir"])
    with pytest.raises(OutputError):
        _library_writers(files)[writer](special)
    assert snapshot(files["dir"]) == before
