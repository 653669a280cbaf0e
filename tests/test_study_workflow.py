"""Issue 12 the way a researcher hits it: stale sweep points, lost warnings, narrow terminals,
the event engine on a big network, several images, stand-alone sweep directories, figures, records."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import eiesim
from eiesim.network.synthetic import eie_fc_layer
from eiesim.network.workload import Workload, layer_from_dense
from eiesim.network.workload_file import save_workload
from _support import run_cli, small_workload

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"
ARCH8 = ROOT / "arch_configs" / "eie-64pe-8bit.yaml"
SQUEEZENET = ROOT / "workloads" / "squeezenet-1.0-synthetic.npz"


def _eiesim(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eiesim", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600, env=env)


def conv_workload() -> Workload:
    """A small image network (3 x 16 x 16 input) whose work depends on the picture."""
    rng = np.random.default_rng(5)
    cb = np.linspace(-1.0, 1.0, 16).astype(np.float32)
    cb[cb == 0] = 0.1
    codes = rng.integers(0, 16, size=(8, 3, 3, 3))
    w = np.where(rng.random(codes.shape) < 0.5, cb[codes], 0).astype(np.float32)
    layer = layer_from_dense("c1", w, codes_dense=codes, codebook=cb, padding=(1, 1))
    codes2 = rng.integers(0, 16, size=(4, 8, 3, 3))
    w2 = np.where(rng.random(codes2.shape) < 0.5, cb[codes2], 0).astype(np.float32)
    layer2 = layer_from_dense("c2", w2, codes_dense=codes2, codebook=cb, padding=(1, 1), inputs=("c1",))
    return Workload("tinyconv", "test", (3, 16, 16), None, [layer, layer2], None)


def _png(path: Path, seed: int) -> Path:
    import skimage.io

    rng = np.random.default_rng(seed)
    img = (rng.random((20, 20, 3)) * 255 * (rng.random((20, 20, 1)) < 0.5)).astype(np.uint8)
    skimage.io.imsave(path, img, check_contrast=False)
    return path


# -- bug 2: stale sweep points ---------------------------------------------------------------

def test_changed_image_bytes_at_the_same_path_recompute_the_point(tmp_path):
    """Before: the key hashed the image *path*, so a new photo at the same path reused the old points."""
    wl = tmp_path / "conv.npz"
    save_workload(conv_workload(), wl)
    photo = _png(tmp_path / "photo.png", 1)
    first = eiesim.sweep(TINY, wl, ["num_pes=2,4"], tmp_path / "s", input=str(photo))
    again = eiesim.sweep(TINY, wl, ["num_pes=2,4"], tmp_path / "s", input=str(photo))
    assert (first.computed, again.computed, again.reused) == (2, 0, 2)
    _png(photo, 2)  # another picture, same file name
    changed = eiesim.sweep(TINY, wl, ["num_pes=2,4"], tmp_path / "s", input=str(photo))
    assert changed.computed == 2 and changed.reused == 0
    assert [r["point"] for r in changed.rows] != [r["point"] for r in first.rows]
    # The recomputed numbers are those of the new picture (a fresh, store-less sweep agrees).
    fresh = eiesim.sweep(TINY, wl, ["num_pes=2,4"], input=str(photo))
    assert [r["cycles"] for r in changed.rows] == [r["cycles"] for r in fresh.rows]


def test_a_changed_model_source_changes_every_key(tmp_path, monkeypatch):
    """The key covers the simulator itself: a different model digest never reuses points."""
    import eiesim.sweeps.keys as keys_mod

    wl = tmp_path / "fc.npz"
    save_workload(eie_fc_layer("fc", 64, 32, 0.3, 0.5, 4, 0), wl)
    eiesim.sweep(TINY, wl, ["num_pes=2"], tmp_path / "s")
    monkeypatch.setattr(keys_mod, "model_digest", lambda: "0" * 64)
    again = eiesim.sweep(TINY, wl, ["num_pes=2"], tmp_path / "s")
    assert again.computed == 1 and again.reused == 0


def test_model_digest_covers_the_engines_not_the_cli():
    from eiesim.run.provenance import model_sources

    names = {p.as_posix() for p in model_sources()}
    for needed in ("timing/fast.py", "timing/kernels.py", "encoding/layout.py", "encoding/kernels.py", "costs/default.py",
                   "data/cacti_sram_grid.csv", "sweeps/points.py", "run/simulate.py", "network/fixed_point.py"):
        assert needed in names, needed
    assert not any(n.startswith(("cli/", "render/", "_deprecated/")) for n in names)


# -- bug 3: warnings ---------------------------------------------------------------------------

EXTRAPOLATE = ["--set", "num_pes=1", "--set", "spmat_sram.size_bytes=auto", "--set", "ptr_sram.size_bytes=auto"]


def test_cost_model_warning_reaches_terminal_json_and_html(tmp_path):
    """Before: the 1 MB Spmat at num_pes=1 (outside the CACTI grid) was priced by extrapolation silently."""
    proc = _eiesim("run", *EXTRAPOLATE, "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    warning = [line for line in proc.stderr.splitlines() if line.startswith("eiesim: warning: ")]
    # On one PE the largest layer also outgrows the published 16-bit pointers (docs/timing-model.md section 1).
    assert len(warning) == 2 and "1048576 B x 64 bit is outside the CACTI grid" in warning[1]
    assert "16-bit pointers address at most 65,535 entries" in warning[0] and "simulated with 17-bit" in warning[0]
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["schema_version"] == 3
    assert len(report["warnings"]) == 2 and "outside the CACTI grid" in report["warnings"][1]
    assert report["arch"]["ptr_sram"]["pointer_bits"] == 17 and report["storage"]["pointer_bits_needed"] == 17
    html = (tmp_path / "r" / "report.html").read_text()
    assert 'id="warnings"' in html and "outside the CACTI grid" in html and "17-bit pointers" in html


def test_a_run_without_warnings_says_so():
    result = eiesim.simulate(eiesim.load_arch(None, ["num_pes=4"]), eie_fc_layer("fc", 64, 32, 0.3, 0.5, 4, 0))
    assert result.warnings == [] and result.to_dict()["warnings"] == []


def test_cost_model_warning_reaches_sweep_rows(tmp_path):
    proc = _eiesim("sweep", str(ARCH8), str(SQUEEZENET), "--set", "num_pes=1,64", "--set",
                   "spmat_sram.size_bytes=auto", "--out", str(tmp_path / "s"), "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader((tmp_path / "s" / "results.csv").open()))
    by_pes = {r["num_pes"]: r for r in rows}
    assert "outside the CACTI grid" in by_pes["1"]["warnings"] and by_pes["64"]["warnings"] == ""
    # resolved 'auto' sizes are in the rows: bytes, not "auto"
    assert by_pes["1"]["resolved.spmat_sram.size_bytes"] == "1048576"
    assert by_pes["1"]["spmat_sram.size_bytes"] == "auto"
    assert "eiesim: warning:" in proc.stderr


# -- bug 8: narrow terminals -------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["reproduce", "eie-table4"],
    ["run"],
    ["run", "--image", "chelsea", "--image", "coffee"],
    ["info", str(SQUEEZENET)],
    ["params"],
])
def test_tables_are_readable_at_80_columns_when_piped(args):
    """Before: ``reproduce eie-table4 | cat`` showed 'Al…' and 'pa…' for every layer name and header."""
    env = {**os.environ, "COLUMNS": "80"}
    proc = _eiesim(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in proc.stdout  # no cell or header was cut
    if args[0] == "reproduce":
        for name in ("Alex-6", "Alex-8", "VGG-6", "paper theor.", "padding entries"):
            assert name in proc.stdout, name


def test_run_totals_are_not_cut_at_80_columns(tmp_path):
    """Before: the two-column Totals table kept its widest cells' widths, and rich cut it at column 80:
    `eiesim run | cat` showed 'cycles' with no number."""
    env = {**os.environ, "COLUMNS": "80"}
    proc = _eiesim("run", "--json", str(tmp_path / "r.json"), env=env)
    assert proc.returncode == 0, proc.stderr
    totals = json.loads((tmp_path / "r.json").read_text())["totals"]
    start = proc.stdout.index("Totals")
    block = proc.stdout[start:start + 2000]
    assert f"{totals['cycles']:,}" in block
    assert f"{totals['real_macs']:,}" in block and "resident on chip" in block


def test_fold_table_keeps_every_cell():
    from rich.table import Table

    from eiesim.cli.tables import FoldingConsole, fold_table

    table = Table(title="t")
    for i in range(12):
        table.add_column(f"column {i}", justify="right", no_wrap=True)
    table.add_row(*[f"{i * 1234567:,}" for i in range(12)])
    console = FoldingConsole(width=80)
    parts = fold_table(console, table)
    assert len(parts) > 1
    assert all(p.columns[0].header == "column 0" for p in parts)  # the label column is repeated
    cells = [c for p in parts for col in p.columns[1:] for c in col._cells]
    assert cells == [f"{i * 1234567:,}" for i in range(1, 12)]


def test_json_wherever_a_table_is_printed(tmp_path):
    out = _eiesim("params", "--json")
    assert out.returncode == 0 and any(p["key"] == "num_pes" for p in json.loads(out.stdout))
    out = _eiesim("workload", "--list", "--json")
    assert out.returncode == 0 and "squeezenet-1.0" in json.loads(out.stdout)
    wl = tmp_path / "fc.npz"
    save_workload(eie_fc_layer("fc", 64, 32, 0.3, 0.5, 4, 0), wl)
    out = _eiesim("sweep", str(TINY), str(wl), "--set", "num_pes=1,2", "--out", str(tmp_path / "s"),
                  "--json", str(tmp_path / "s.json"), "--workers", "1")
    assert out.returncode == 0, out.stderr
    doc = json.loads((tmp_path / "s.json").read_text())
    assert [r["num_pes"] for r in doc["rows"]] == [1, 2] and "cycles" in doc["columns"]


# -- bug 9: the event engine on a big network ----------------------------------------------------

def test_event_engine_refuses_squeezenet_before_starting():
    """Before: ``run --engine event`` on SqueezeNet started an hour-long run at 0 % with no warning."""
    proc = _eiesim("run", "--engine", "event")
    assert proc.returncode == 2
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("eiesim: error: the event engine would take about") and "--allow-slow" in line
    assert "estimated" in proc.stderr  # the estimate is shown first


def test_event_estimate_tracks_the_work():
    """The estimate is linear in broadcasts x PEs: 4x the PEs on the same layer, about 4x the broadcast term."""
    from eiesim.run.simulate import estimate_event_seconds
    from eiesim.timing.event_budget import SECONDS_PER_ENTRY, SECONDS_PER_PE_BROADCAST

    wl = eie_fc_layer("fc", 512, 256, 0.2, 0.4, 4, 0)
    t16 = estimate_event_seconds(eiesim.load_arch(None, ["num_pes=16"]), wl)
    t64 = estimate_event_seconds(eiesim.load_arch(None, ["num_pes=64"]), wl)
    broadcasts = int(np.count_nonzero(wl.input))
    entries = int(np.bincount(wl.layers[0].indices, minlength=512)[wl.input != 0].sum())
    assert t16 == pytest.approx(SECONDS_PER_PE_BROADCAST * broadcasts * 16 + SECONDS_PER_ENTRY * entries)
    assert t64 == pytest.approx(SECONDS_PER_PE_BROADCAST * broadcasts * 64 + SECONDS_PER_ENTRY * entries)


def test_event_engine_reports_progress_inside_a_layer(monkeypatch):
    from eiesim.timing import event

    monkeypatch.setattr(event, "PROGRESS_EVERY_S", 0.0)  # every chance to report (normally every 0.25 s)
    wl = Workload("c", "t", (3, 16, 16), None, conv_workload().layers[:1], None)
    calls: list[float] = []
    eiesim.simulate(eiesim.load_arch(TINY), wl, input="chelsea", engine="event",
                    progress=lambda done, total, name: calls.append(done))
    inside = [d for d in calls if 0 < d < 1]
    assert len(inside) > 10 and inside == sorted(inside)


def test_event_engine_reports_progress_inside_one_round_of_an_fc_layer(monkeypatch):
    """Before: an fc layer (one round) reported nothing until it was done (Alex-8 sat at 0 %)."""
    from eiesim.timing import event

    monkeypatch.setattr(event, "PROGRESS_EVERY_S", 0.0)
    wl = eie_fc_layer("fc", 256, 128, 0.2, 0.4, 4, 0)
    calls: list[float] = []
    eiesim.simulate(eiesim.load_arch(TINY), wl, engine="event", progress=lambda done, total, name: calls.append(done))
    inside = [d for d in calls if 0 < d < 1]
    broadcasts = int(np.count_nonzero(wl.input))
    assert len(inside) >= broadcasts - 1 and inside == sorted(inside)


def test_limit_can_be_lifted_in_the_library():
    wl = eie_fc_layer("fc", 256, 128, 0.2, 0.4, 4, 0)
    with pytest.raises(eiesim.EiesimError, match="event engine would take"):
        eiesim.simulate(eiesim.load_arch(TINY), wl, engine="event", event_limit_s=1e-6)
    assert eiesim.simulate(eiesim.load_arch(TINY), wl, engine="event", event_limit_s=None).cycles > 0


# -- several images ---------------------------------------------------------------------------

def test_several_images_give_per_image_results_and_spread(tmp_path):
    """Before: ``--image a --image b`` silently simulated only b."""
    wl = conv_workload()
    arch = eiesim.load_arch(TINY)
    photos = [_png(tmp_path / f"p{i}.png", i) for i in range(3)]
    multi = eiesim.simulate_images(arch, wl, [str(p) for p in photos])
    alone = [eiesim.simulate(arch, wl, input=str(p)) for p in photos]
    assert [r.cycles for r in multi.results] == [r.cycles for r in alone]
    cycles = [r.cycles for r in alone]
    stats = multi.stats()
    assert stats["totals"]["cycles"] == {"mean": sum(cycles) / 3, "min": min(cycles), "max": max(cycles)}
    for i, layer in enumerate(stats["layers"]):
        per = [r.layers[i].cycles for r in alone]
        assert layer["cycles"]["min"] == min(per) and layer["cycles"]["max"] == max(per)
    body = multi.to_dict()
    assert [img["cycles"] for img in body["images"]] == cycles
    assert body["layers"] == alone[0].to_dict()["layers"]  # top level = the first image, unchanged
    # A folder gives the same images, in name order.
    assert [r.cycles for r in eiesim.simulate_images(arch, wl, str(tmp_path)).results] == cycles


def test_run_with_repeated_images_and_a_folder(tmp_path):
    wl = tmp_path / "conv.npz"
    save_workload(conv_workload(), wl)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        _png(folder / f"{i}.png", i)
    proc = _eiesim("run", str(TINY), str(wl), "--image", str(folder), "--image", "chelsea", "--json",
                   str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert [img["input"] for img in doc["images"]] == [str(folder / "0.png"), str(folder / "1.png"), "chelsea"]
    assert doc["image_stats"]["images"] == 3 and "3 images" in proc.stdout
    dup = _eiesim("run", str(TINY), str(wl), "--image", "chelsea", "--image", "chelsea")
    assert dup.returncode == 2 and "given twice" in dup.stderr


def test_bundled_photos_load_offline():
    """Every bundled photo name loads without network (they ship inside scikit-image)."""
    from eiesim.inputs.images import BUNDLED_PHOTOS, load_image

    code = ("import socket\n"
            "def refuse(*a, **k): raise OSError('network disabled in this test')\n"
            "socket.socket.connect = refuse\n"
            "from eiesim.inputs.images import BUNDLED_PHOTOS, load_image\n"
            "print(sorted(name for name in BUNDLED_PHOTOS if load_image(name).shape[2] == 3))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert eval(proc.stdout) == sorted(BUNDLED_PHOTOS)  # noqa: S307 - our own printed list
    assert load_image("chelsea").dtype == np.uint8


# -- sweep directories that stand alone ----------------------------------------------------------

def test_sweep_directory_stands_alone(tmp_path):
    wl = tmp_path / "fc.npz"
    save_workload(eie_fc_layer("fc", 256, 128, 0.2, 0.4, 4, 0), wl)
    out = tmp_path / "s"
    proc = _eiesim("sweep", str(TINY), str(wl), "--set", "num_pes=2,4", "--set", "spmat_sram.size_bytes=auto",
                   "--out", str(out), "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    from eiesim.run.provenance import file_digest, model_digest

    assert manifest["workload"]["sha256"] == file_digest(wl) and manifest["arch"]["sha256"] == file_digest(TINY)
    assert manifest["model_digest"] == model_digest() and manifest["eiesim_version"] == eiesim.__version__
    assert manifest["command"][:2] == ["eiesim", "sweep"] and manifest["images"][0]["image"] == "workload input"
    for key in manifest["points"]:
        point = json.loads((out / "points" / f"{key}.json").read_text())["row"]  # the verified envelope
        assert point["resolved_arch"]["spmat_sram"]["size_bytes"] == point["resolved.spmat_sram.size_bytes"]
        assert isinstance(point["resolved.spmat_sram.size_bytes"], int)
        assert [layer["name"] for layer in point["layers"]] == ["fc"]
        assert point["layers"][0]["cycles"] == point["cycles"]
    rep = _eiesim("report", str(out))
    assert rep.returncode == 0, rep.stderr
    html = (out / "report.html").read_text()
    assert "fc on tiny-4pe.yaml" in html and f"eiesim {eiesim.__version__}" in html
    assert manifest["workload"]["sha256"] in html


# -- figures for papers and results as data --------------------------------------------------------

def test_figures_as_svg_pdf_png_with_caption(tmp_path, capsys):
    """A two-layer network (a conv and an fc layer) draws every figure; the second drawing, in another process,
    gives the same bytes."""
    wl = tmp_path / "small.npz"
    save_workload(small_workload(), wl)
    out = tmp_path / "r"
    code, _, err = run_cli(["run", str(TINY), str(wl), "--set", "codebook_bits=8", "--out", str(out)], capsys)
    assert code == 0, err
    code, _, err = run_cli(["report", str(out), "--figures", str(tmp_path / "figs")], capsys)
    assert code == 0, err
    files = sorted((tmp_path / "figs").iterdir())
    stems = {f.name.split(".")[0] for f in files}
    names = {f.name for f in files}
    assert stems and all({s + ".svg", s + ".pdf", s + ".png", s + ".caption.md"} <= names for s in stems)
    svg = next(f for f in files if f.suffix == ".svg").read_text()
    assert "cycles" in svg and "small on tiny-4pe" not in svg  # the caption is beside the figure, not in it
    caption = next(f for f in files if f.name.endswith(".caption.md")).read_text()
    assert caption.startswith("**Figure 1.** small on tiny-4pe")
    assert next(f for f in files if f.suffix == ".pdf").read_bytes().startswith(b"%PDF")
    again = tmp_path / "figs2"
    proc = _eiesim("report", str(out), "--figures", str(again))
    assert proc.returncode == 0, proc.stderr
    assert [f.read_bytes() for f in files] == [(again / f.name).read_bytes() for f in files]  # deterministic


def test_to_records_and_to_dataframe(monkeypatch):
    result = eiesim.simulate(eiesim.load_arch(TINY), eie_fc_layer("fc", 64, 32, 0.3, 0.5, 4, 0))
    rows = result.to_records()
    stats = result.layers[0]
    assert len(rows) == 1 and rows[0]["name"] == "fc" and rows[0]["cycles"] == stats.cycles
    assert rows[0]["actions.macs"] == stats.actions["macs"]
    assert rows[0]["stall_breakdown.busy"] == int(stats.busy_cycles.sum())
    assert all(not isinstance(v, (list, dict)) for v in rows[0].values())
    monkeypatch.setitem(sys.modules, "pandas", None)  # pandas absent: a clean error, not an ImportError
    with pytest.raises(eiesim.EiesimError, match="needs pandas"):
        result.to_dataframe()


def test_the_event_progress_bar_moves_by_each_layers_share_of_the_estimate():
    from eiesim.cli.run_cmd import _layer_shares

    share = _layer_shares([3.0, 1.0], 2)  # layer 0 is 3/4 of the work: it spans 1.5 of the bar's 2 units
    assert [share(d) for d in (0, 0.5, 1, 1.5, 2, 2.5, 4)] == [0, 0.75, 1.5, 1.75, 2, 2.75, 4]
    assert _layer_shares(None, 3)(1.5) == 1.5
