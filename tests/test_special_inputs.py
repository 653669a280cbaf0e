"""Special files as inputs are refused at open, and text inputs are read with a bound (issue 22, item 3).

A device (``/dev/zero``: endless bytes, ``st_size`` 0) or a FIFO (blocks an ``open`` until a
writer comes, then reads what it writes) given where eiesim expects a file must be refused
with one line, without blocking and without reading it. Each FIFO test has a rescuer thread
that, should eiesim block on the FIFO anyway, opens its writing end and closes it, so that a
regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from _support import run_cli

from eiesim.errors import ArchError, EiesimError, InputDataError, ModelFileError, UsageError, WorkloadError
from eiesim.importers.agreement import load_density_profile
from eiesim.importers.caffe.prototxt import read_prototxt
from eiesim.inputs.files import read_bytes_bounded
from eiesim.inputs.npz import read_npy, read_npz
from eiesim.inputs.text import read_text
from eiesim.network.synthetic import eie_fc_layer
from eiesim.network.workload_file import save_workload

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"
DEV_ZERO = Path("/dev/zero")

needs_dev_zero = pytest.mark.skipif(not DEV_ZERO.exists(), reason="no /dev/zero here")


@contextlib.contextmanager
def fifo(path: Path) -> Iterator[Path]:
    """A FIFO at ``path``; if a reader is still blocked on it when the block ends, it is released."""
    os.mkfifo(path)
    done = threading.Event()

    def rescue() -> None:
        while not done.wait(0.5):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # succeeds only while a reader has it open
            except OSError as exc:
                if exc.errno in (errno.ENXIO, errno.ENOENT):
                    continue
                return
            os.close(fd)

    rescuer = threading.Thread(target=rescue, daemon=True)
    rescuer.start()
    try:
        yield path
    finally:
        done.set()
        rescuer.join()


def one_error_line(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eiesim: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def fc_npz(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wl") / "fc.npz"
    save_workload(eie_fc_layer("fc", 32, 16, 0.3, 0.5, bits=4, seed=1), path)
    return path


def test_read_bytes_bounded_counts_while_reading(tmp_path):
    """The limit holds for what is read, whatever the size said before: exactly at the limit is fine."""
    path = tmp_path / "f.txt"
    path.write_bytes(b"x" * 100)
    assert read_bytes_bounded(path, 100) == b"x" * 100
    with pytest.raises(EiesimError, match="larger than the 99 bytes"):
        read_bytes_bounded(path, 99)


@needs_dev_zero
@pytest.mark.parametrize("via_link", [False, True])
def test_dev_zero_is_refused_as_text(via_link, tmp_path):
    path = DEV_ZERO
    if via_link:
        path = tmp_path / "arch.yaml"
        path.symlink_to(DEV_ZERO)
    with pytest.raises(ArchError, match="is a device node, not a regular file"):
        read_text(path, ArchError, "architecture file")


def test_fifo_is_refused_as_text_without_blocking(tmp_path):
    with fifo(tmp_path / "arch.yaml") as path, pytest.raises(ArchError, match="FIFO"):
        read_text(path, ArchError, "architecture file")


@needs_dev_zero
def test_density_profile_on_dev_zero_is_refused(tmp_path):
    with pytest.raises(UsageError, match="is a device"):
        load_density_profile(DEV_ZERO, ["fc"])


@needs_dev_zero
def test_prototxt_on_dev_zero_is_refused():
    with pytest.raises(ModelFileError, match="is a device"):
        read_prototxt(DEV_ZERO)


def test_npz_and_npy_fifos_are_refused(tmp_path):
    with fifo(tmp_path / "w.npz") as path, pytest.raises(WorkloadError, match="FIFO"):
        read_npz(path)
    with fifo(tmp_path / "x.npy") as path, pytest.raises(InputDataError, match="FIFO"):
        read_npy(path)


@pytest.mark.parametrize("which", ["arch", "workload"])
def test_cli_refuses_a_fifo_input(which, fc_npz, tmp_path, capsys):
    with fifo(tmp_path / ("arch.yaml" if which == "arch" else "fc.npz")) as path:
        arch, wl = (path, fc_npz) if which == "arch" else (TINY, path)
        code, _, err = run_cli(["run", str(arch), str(wl)], capsys)
        line = one_error_line(code, err)
        assert str(path) in line and "FIFO" in line
        assert stat.S_ISFIFO(os.lstat(path).st_mode)


@needs_dev_zero
def test_sweep_survives_point_files_that_are_a_dev_zero_link_and_a_fifo(fc_npz, tmp_path, capsys):
    """Stored points replaced by a link to /dev/zero and by a FIFO: the sweep neither grows nor hangs;
    it rejects both, recomputes them and ends with the same table as the first run."""
    out = tmp_path / "sweep"
    argv = ["sweep", str(TINY), str(fc_npz), "--set", "fifo_depth=4,8", "--out", str(out), "--workers", "1"]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    first = (out / "results.csv").read_text()
    points = sorted((out / "points").glob("*.json"))
    assert len(points) == 2
    points[0].unlink()
    points[0].symlink_to(DEV_ZERO)
    points[1].unlink()
    with fifo(points[1]):
        code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    assert err.count("failed verification") == 2
    assert (out / "results.csv").read_text() == first
    for point in points:  # stored again as regular files
        assert stat.S_ISREG(os.lstat(point).st_mode)
