"""Figures and tables that go into a paper (issue 26 items 1-3): sweep figures against any swept key, min-max
bars over images, vector and 300 dpi files with captions beside them, Pareto labels that never overlap, colours
named right, one number rule, folded tables that keep their key columns, HTML without host paths or raw Markdown."""

from __future__ import annotations

import io
import json
import re
import struct
from pathlib import Path

import pytest
from matplotlib.colors import to_hex
from rich.table import Table

from eiesim.errors import UsageError
from eiesim.render.numbers import format_count, format_number, format_percent
from eiesim.render.sweep_report import AREA_TOLERANCE, build_sweep_document, pareto_front

ROOT = Path(__file__).resolve().parents[1]


# -- the number rule, by hand-written examples -------------------------------------------------------------

@pytest.mark.parametrize("value, text", [
    (13224099, "13,224,099"),      # an int: in full, thousands separators
    (2_000_000_000, "2,000,000,000"),  # ints are exact counts: never scientific
    (0.8693, "0.8693"),            # 4 significant digits
    (40.7912, "40.79"),
    (4558.333, "4,558"),           # the integer part is never rounded away
    (24920000.5, "24,920,000"),    # 24,920,000.5 rounds half to even at 0 decimals
    (24920001.7, "24,920,002"),
    (9.99996, "10.00"),            # rounding into a new digit keeps 4 significant digits
    (2.492e9, "2.492e+09"),        # floats from 1e9 up: scientific
    (1.25e-4, "1.250e-04"),        # and below 1e-3
    (0.00123, "0.001230"),         # 1e-3 itself is still fixed
    (-3.14159, "-3.142"),
    (0.0, "0"),
    (float("nan"), "–"),
    (None, "–"),
    (True, "true"),
    ("pass", "pass"),
])
def test_number_rule(value, text):
    assert format_number(value) == text


def test_counts_and_percentages():
    assert format_count(4558.5) == "4,558"  # a mean of cycles: a whole number (round half to even)
    assert format_count(4558.6) == "4,559"
    assert format_count(7) == "7"
    assert format_percent(0.8693) == "86.9" and format_percent(0.05) == "5.0" and format_percent(1) == "100.0"


def test_document_formatters_are_the_rule():
    from eiesim.render.document import fmt_int, fmt_num, fmt_pct

    for v in (13224099, 0.8693, 2.492e9, 4558.333, None):
        assert fmt_num(v) == format_number(v)
    assert fmt_int(4558.6) == "4,559" and fmt_pct(0.8693) == "86.9"


def test_run_terminal_tables_follow_the_rule():
    """The terminal tables of `eiesim run` use the same rule as the HTML (no `.2f` / `.4g` of their own)."""
    import eiesim
    from eiesim.network.synthetic import eie_fc_layer
    from eiesim.render.run_tables import layers_table, totals_table

    result = eiesim.simulate(eiesim.load_arch(ROOT / "arch_configs" / "tiny-4pe.yaml"),
                             eie_fc_layer("fc", 64, 32, 0.3, 0.5, 4, 0))
    stats = result.layers[0]
    row = [cell for cell in (col._cells[0] for col in layers_table(result).columns)]
    assert row[1] == format_number(stats.cycles) and row[2] == format_number(stats.time_us)
    assert row[-1] == format_number(stats.load_balance_efficiency)
    totals = {col: cells for col, cells in zip(*(c._cells for c in totals_table(result).columns))}
    assert totals["time"] == f"{format_number(result.totals()['time_us'])} us"


# -- folded terminal tables keep every key column ------------------------------------------------------------

def test_folded_table_repeats_every_key_column():
    from eiesim.cli.tables import FoldingConsole, set_key_columns

    table = Table(title="sweep")
    for name in ("fifo_depth", "num_pes", *(f"metric number {i}" for i in range(8))):
        table.add_column(name, no_wrap=True)
    for depth in (1, 2):
        for pes in (16, 32):
            table.add_row(str(depth), str(pes), *(f"{depth * pes * i:,}" for i in range(8)))
    set_key_columns(table, 2)
    buf = io.StringIO()
    FoldingConsole(file=buf, width=70).print(table)
    text = buf.getvalue()
    parts = text.split("sweep (")[1:]
    assert len(parts) >= 2  # it did fold
    for part in parts:
        header = next(line for line in part.splitlines() if "fifo_depth" in line)
        assert "num_pes" in header
        rows = [tuple(c.strip() for c in line.strip("│").split("│")[:2]) for line in part.splitlines()
                if line.startswith("│") and line.split("│")[1].strip().isdigit()]
        assert sorted(rows) == [("1", "16"), ("1", "32"), ("2", "16"), ("2", "32")]  # every row told apart


# -- the Pareto front with an area tolerance -----------------------------------------------------------------

def test_pareto_tolerance_hand_made():
    rows = [
        {"chip_area_mm2": 10.00, "time_us": 5.7},   # 0: dominated by 3 (area within 1 %, slower)
        {"chip_area_mm2": 10.01, "time_us": 5.4},   # 1: dominated by 3
        {"chip_area_mm2": 10.02, "time_us": 5.2},   # 2: dominated by 3
        {"chip_area_mm2": 10.05, "time_us": 5.1},   # 3: front: fastest of the ~10 mm² designs
        {"chip_area_mm2": 20.00, "time_us": 3.0},   # 4: dominated by 5 (20.1 is within 1 % of 20.0)
        {"chip_area_mm2": 20.10, "time_us": 2.7},   # 5: front
        {"chip_area_mm2": 40.00, "time_us": 2.7},   # 6: dominated by 5: as fast, clearly larger
        {"chip_area_mm2": 40.00, "time_us": 1.6},   # 7: front
    ]
    assert pareto_front(rows, x_tolerance=0.01) == [False, False, False, True, False, True, False, True]
    # without the tolerance every ~10 mm² point is optimal (the "9 of 10 points")
    assert pareto_front(rows) == [True, True, True, True, True, True, False, True]


def test_pareto_tolerance_agrees_with_brute_force():
    import random

    rng = random.Random(5)
    rows = [{"chip_area_mm2": rng.choice([1.0, 1.004, 1.02, 2.0, 2.01, 3.0]), "time_us": rng.choice([1, 2, 3, 4, 5])}
            for _ in range(60)]

    def dominated(p, q, tol):
        px, py, qx, qy = p["chip_area_mm2"], p["time_us"], q["chip_area_mm2"], q["time_us"]
        near = abs(qx - px) <= tol * abs(px)
        return (qx <= px or near) and qy <= py and (qy < py or (qx < px and not near))

    for tol in (0.0, 0.01):
        slow = [not any(dominated(p, q, tol) for q in rows if q is not p) for p in rows]
        assert pareto_front(rows, x_tolerance=tol) == slow


def _sweep_rows(images: int = 1):
    """fifo_depth x num_pes; area hardly depends on the FIFO (as in the real chip); invented, consistent numbers."""
    rows = []
    for depth in (1, 2, 4, 8):
        for pes in (16, 32, 64):
            cycles = 80_000 // pes * (1 + 1 / depth)
            row = {"fifo_depth": depth, "num_pes": pes, "point": f"{depth}-{pes}", "cycles": cycles,
                   "time_us": cycles / 800, "frames_per_s": 800e6 / cycles, "energy_uj": 1.0 + 0.01 * depth,
                   "chip_power_mw": 10.0, "pe_area_um2": 6.4e5, "chip_area_mm2": 0.64 * pes * (1 + 0.0005 * depth),
                   "load_balance_efficiency": 0.9 - 0.05 / depth, "padding_entries": 100, "dram_bytes": 0,
                   "functional": "pass"}
            if images > 1:
                row.update({"cycles_min": cycles * 0.8, "cycles_max": cycles * 1.3, "time_us_min": cycles * 0.8 / 800,
                            "time_us_max": cycles * 1.3 / 800, "energy_uj_min": row["energy_uj"] * 0.9,
                            "energy_uj_max": row["energy_uj"] * 1.1, "images": images})
            rows.append(row)
    columns = list(rows[0])
    return rows, columns


def _figures(doc, section_title=None):
    from eiesim.render.document import Figure

    return [b for s in doc.sections if section_title is None or s.title == section_title
            for b in s.blocks if isinstance(b, Figure)]


def test_pareto_section_says_when_areas_hardly_differ():
    rows, columns = _sweep_rows()
    rows = [r for r in rows if r["num_pes"] == 16]  # areas 10.24 x (1.0005 .. 1.004) mm²
    doc = build_sweep_document(rows, columns)
    text = " ".join(b.text for s in doc.sections if s.anchor == "pareto" for b in s.blocks if hasattr(b, "text"))
    # (1.004 - 1.0005) / 1.0005 = 0.0034983 -> 0.3498 %
    assert "varies by only 0.3498 % over all points (less than the 1 % tolerance)" in text
    assert "not meaningful" in text
    assert sum(pareto_front(rows, x_tolerance=AREA_TOLERANCE)) == 1  # the fastest design only


# -- Pareto labels never overlap; the caption names the colours ----------------------------------------------

def _text_boxes(fig):
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    return [t.get_window_extent(renderer) for t in ax.texts]


def test_pareto_labels_never_overlap_and_stay_inside():
    from eiesim.render import plots

    # 38 points in a tight cluster (two far ones stretch the axes), all on the front: their labels cannot all fit
    xs = [1.0 + 0.002 * i for i in range(38)] + [5.0, 9.0]
    ys = [10.0 - 0.002 * i for i in range(38)] + [5.0, 1.0]
    image = plots.pareto_scatter(xs, ys, [True] * 40, [f"{8 * i},{i}" for i in range(40)], title="t",
                                 xlabel="x", ylabel="y")
    boxes = _text_boxes(image.figure)
    assert boxes and len(boxes) + image.labels_left_out == 40 and image.labels_left_out > 0
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)
    frame = image.figure.axes[0].get_window_extent(image.figure.canvas.get_renderer())
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1 for b in boxes)
    # well-spread points all get their label
    spread = plots.pareto_scatter([1, 2, 3, 4], [4, 3, 2, 1], [True] * 4, ["a", "b", "c", "d"], title="t",
                                  xlabel="x", ylabel="y")
    assert spread.labels_left_out == 0 and len(_text_boxes(spread.figure)) == 4


def test_pareto_caption_names_the_colours_drawn():
    from eiesim.render.style import colour_name

    rows, columns = _sweep_rows()
    doc = build_sweep_document(rows, columns)
    fig = _figures(doc, "Area / latency Pareto front")[0]
    scatters = [c for c in fig.png.figure.axes[0].collections if c.get_label() in ("dominated", "Pareto-optimal")]
    colours = {c.get_label(): colour_name(to_hex(c.get_facecolor()[0])) for c in scatters}
    assert colours == {"dominated": "light grey", "Pareto-optimal": "blue"}
    assert f"{colours['Pareto-optimal']} points (joined by the staircase) are Pareto-optimal" in fig.caption
    assert f"{colours['dominated']} points are dominated" in fig.caption and "red" not in fig.caption


# -- sweep figures: every swept key, chosen x, layouts, error bars -------------------------------------------

def test_default_figures_cover_every_swept_key():
    rows, columns = _sweep_rows()
    doc = build_sweep_document(rows, columns)
    titles = [s.title for s in doc.sections]
    assert "Metrics vs num_pes" in titles and "Metrics vs fifo_depth" in titles
    vs_fifo = _figures(doc, "Metrics vs fifo_depth")
    assert len(vs_fifo) == 5  # speedup, area, energy, time, load balance
    # one line per num_pes value: 3 lines, 4 points each
    lines = [ln for ln in vs_fifo[3].png.figure.axes[0].get_lines() if len(ln.get_xdata()) == 4]
    assert len(lines) == 3
    assert "one line per num_pes" in vs_fifo[3].caption


def test_x_key_chooses_the_axis_and_must_be_swept():
    rows, columns = _sweep_rows()
    doc = build_sweep_document(rows, columns, x_key="fifo_depth")
    assert [s.title for s in doc.sections if s.title.startswith("Metrics vs")] == ["Metrics vs fifo_depth"]
    with pytest.raises(UsageError, match="not a swept key.*fifo_depth, num_pes"):
        build_sweep_document(rows, columns, x_key="clock_mhz")


def test_several_images_give_error_bars_and_say_so():
    rows, columns = _sweep_rows(images=3)
    doc = build_sweep_document(rows, columns, x_key="num_pes")
    figs = {f.alt: f for f in _figures(doc, "Metrics vs num_pes")}
    time_fig = figs["Line plot of time per frame against num_pes"]
    assert "means over 3 images" in time_fig.caption and "error bars span the minimum to the maximum" in time_fig.caption
    ax = time_fig.png.figure.axes[0]
    bars = [c for c in ax.containers if c.__class__.__name__ == "ErrorbarContainer"]
    assert len(bars) == 4  # one per fifo_depth line
    # the bar of fifo_depth=1, num_pes=16 spans time_us_min..time_us_max of that row
    row = next(r for r in rows if r["fifo_depth"] == 1 and r["num_pes"] == 16)
    segments = bars[0].lines[2][0].get_segments()
    assert segments[0][0][1] == pytest.approx(row["time_us_min"]) and segments[0][1][1] == pytest.approx(
        row["time_us_max"])
    area_fig = figs["Line plot of chip area against num_pes"]
    assert "means over 3 images" in area_fig.caption and "error bars" not in area_fig.caption


def test_facets_and_heatmap_layouts():
    rows, columns = _sweep_rows()
    facets = _figures(build_sweep_document(rows, columns, x_key="num_pes", layout="facets"), "Metrics vs num_pes")
    visible = [ax for ax in facets[3].png.figure.axes if ax.get_visible()]
    assert len(visible) == 4 and "one panel per fifo_depth" in facets[3].caption  # one panel per FIFO depth
    heat = _figures(build_sweep_document(rows, columns, x_key="fifo_depth", layout="heatmap"), "Metrics vs fifo_depth")
    assert len(heat) == 4  # area, energy, time, load balance (speedup needs a baseline per line)
    image = heat[2].png.figure.axes[0].get_images()[0]
    assert image.get_array().shape == (3, 4)  # rows: num_pes values, columns: fifo_depth values
    assert image.get_cmap().name == "cividis"
    three = [{**r, "clock_mhz": c} for r in rows for c in (400, 800)]
    with pytest.raises(UsageError, match="exactly two swept keys"):
        build_sweep_document(three, ["clock_mhz", *columns], layout="heatmap")


# -- files for papers: vector, 300 dpi, captions beside, width -----------------------------------------------

def _png_info(data: bytes) -> tuple[int, int, float]:
    """(width px, height px, dpi) from the IHDR and pHYs chunks (pHYs holds pixels per metre)."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, size, dpi = 8, (0, 0), 0.0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"pHYs":
            ppm_x, _, unit = struct.unpack(">IIB", body)
            assert unit == 1  # metres
            dpi = ppm_x * 0.0254
        pos += 12 + length
    return size[0], size[1], dpi


def _sweep_dir(tmp_path, rows, columns, manifest=None):
    from eiesim.sweeps.store import ResultStore

    ResultStore(tmp_path / "sweep").write_tables(rows, columns)
    if manifest is not None:
        (tmp_path / "sweep" / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path / "sweep"


def _run_cli(args):
    from click.testing import CliRunner

    import eiesim.cli.report_cmd  # noqa: F401 - registers the command
    from eiesim.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)


def test_exported_figures_vector_png_300dpi_captions_beside(tmp_path):
    rows, columns = _sweep_rows(images=3)
    sweep = _sweep_dir(tmp_path, rows, columns)
    figs = tmp_path / "figs"
    result = _run_cli(["report", sweep, "--x", "num_pes", "--figures", figs, "--figure-width", "column"])
    assert result.exit_code == 0, result.output
    stems = sorted({f.name.split(".")[0] for f in figs.iterdir()})
    assert len(stems) == 6  # 5 metrics vs num_pes and the Pareto scatter (these rows have no cycle breakdown)
    for stem in stems:
        for suffix in (".svg", ".pdf", ".png", ".caption.md"):
            assert (figs / f"{stem}{suffix}").is_file(), stem + suffix
        width, height, dpi = _png_info((figs / f"{stem}.png").read_bytes())
        assert dpi == pytest.approx(300, abs=0.1)
        assert width == round(3.5 * 300)  # a column of 3.5 in at 300 dpi
        assert (figs / f"{stem}.pdf").read_bytes().startswith(b"%PDF")
        svg = (figs / f"{stem}.svg").read_text()
        caption = (figs / f"{stem}.caption.md").read_text()
        assert svg.lstrip().startswith("<?xml") and "<text" in svg  # vector, text kept as text
        assert caption.startswith("**Figure ") and caption.split("** ", 1)[1][:40] not in svg  # not burned in
    time_caption = next((figs / f"{s}.caption.md").read_text() for s in stems if "time-per-frame" in s)
    assert "means over 3 images" in time_caption
    html = (sweep / "report.html").read_text()
    assert "means over 3 images" in html  # the caption is in the report too


def test_caption_in_figure_when_asked(tmp_path):
    rows, columns = _sweep_rows()
    sweep = _sweep_dir(tmp_path, rows, columns)
    figs = tmp_path / "figs"
    result = _run_cli(["report", sweep, "--x", "num_pes", "--figures", figs, "--figure-format", "svg",
                       "--caption-in-figure"])
    assert result.exit_code == 0, result.output
    svg = next(figs.glob("*time-per-frame*.svg")).read_text()
    assert "Time per frame against num_pes, one line per fifo_depth" in svg


def test_report_options_errors_are_one_line(tmp_path, capsys):
    from eiesim.cli import main

    rows, columns = _sweep_rows()
    sweep = _sweep_dir(tmp_path, rows, columns)
    for args, message in ((["--x", "nope"], "not a swept key"), (["--figure-width", "wide"], "figure width"),
                          (["--figure-width", "0.5"], "outside 1.5-20 in"),
                          (["--layout", "heatmap", "--x", "fifo_depth", "--format", "md"], None)):
        if message is None:
            main(["report", str(sweep), *args])  # two varying keys: a heatmap is fine
            assert "Heatmap of time per frame" in (sweep / "report.md").read_text()
            continue
        with pytest.raises(SystemExit) as exc:
            main(["report", str(sweep), *args])
        err = capsys.readouterr().err.strip().splitlines()
        assert exc.value.code == 2 and len(err) == 1 and message in err[0], err


# -- HTML: no host paths, no raw Markdown, tables scroll -----------------------------------------------------

def test_sweep_html_has_no_absolute_paths_or_backticks(tmp_path):
    rows, columns = _sweep_rows()
    arch = tmp_path / "configs" / "eie.yaml"
    manifest = {"kind": "eiesim-sweep", "eiesim_version": "0.2.0",
                "workload": {"name": "fc", "path": str(tmp_path / "wl" / "fc.npz"), "sha256": "ab" * 32},
                "arch": {"name": "eie.yaml", "path": str(arch), "sha256": "cd" * 32},
                "images": [{"image": str(tmp_path / "photos" / "cat.png"), "input_sha256": "ef" * 32}],
                "sets": ["fifo_depth=1,2,4,8", "num_pes=16,32,64"],
                "command": ["eiesim", "sweep", str(arch), str(tmp_path / "wl" / "fc.npz"), "--out", "sweep"]}
    sweep = _sweep_dir(tmp_path, rows, columns, manifest)
    for fmt in ("html", "md"):
        result = _run_cli(["report", sweep, "--format", fmt])
        assert result.exit_code == 0, result.output
    html = (sweep / "report.html").read_text()
    assert str(tmp_path) not in html and "`" not in html
    assert "<code>../configs/eie.yaml</code>" in html and "<code>../wl/fc.npz</code>" in html
    assert "<code>../photos/cat.png</code>" in html
    assert "<code>fifo_depth=1,2,4,8</code>" in html  # Markdown code spans rendered as code
    md = (sweep / "report.md").read_text()
    assert str(tmp_path) not in md and "`../configs/eie.yaml`" in md
    # every table sits in a box that scrolls sideways
    assert html.count("<table>") == html.count('<div class="scroll') and ".scroll { overflow-x: auto;" in html


def test_relative_path_rule():
    from eiesim.render.document import relative_path

    assert relative_path("/srv/data/wl/fc.npz", "/srv/data/sweep") == "../wl/fc.npz"
    assert relative_path("/work/arch/a.yaml", "/tmp/sweep") == "a.yaml"  # only the root in common: the name
    assert relative_path("/work/arch/a.yaml", None) == "a.yaml"
    assert relative_path("arch/a.yaml", "/tmp/sweep") == "arch/a.yaml"  # relative already: as given
    assert relative_path("workload input", "/tmp/sweep") == "workload input"


def test_table_cells_render_code_spans_but_never_links():
    from eiesim.render.document import Document, Section, Table, render

    doc = Document("t", sections=[Section("s", "s", [Table(["name `key`"], [["`a<b`"], ["[x](javascript:alert(1))"]])])])
    html = render(doc, "html")
    assert "<th class=\"\">name <code>key</code></th>" in html and "<code>a&lt;b</code>" in html
    assert "href=\"javascript" not in html  # the cell holds the text, not a link
    assert "[x](javascript:alert(1))" in html


def test_run_html_shows_input_paths_relative_to_the_page(tmp_path):
    from eiesim.render.document import render
    from eiesim.render.run_report import build_run_document

    report = json.loads((ROOT / "reports" / "examples" / "default-run" / "report.json").read_text())
    photo = tmp_path / "photos" / "cat.png"
    report["workload"]["input"] = str(photo)
    html = render(build_run_document(report, base_dir=tmp_path / "out"), "html")
    assert str(tmp_path) not in html and "../photos/cat.png" in html
    assert "`" not in html


# -- the run report: human component names, colours by part ----------------------------------------------------

def test_energy_figure_uses_human_names_and_part_colours():
    from eiesim.render.components import PART_COLOURS
    from eiesim.render.run_report import build_run_document

    report = json.loads((ROOT / "reports" / "examples" / "default-run" / "report.json").read_text())
    doc = build_run_document(report)
    fig = next(f for f in _figures(doc) if f.alt == "Horizontal bar chart of energy by component")
    ax = fig.png.figure.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "pointer SRAM" in labels and "leading non-zero detection" in labels and "filler cells" in labels
    assert not any("_" in label for label in labels) and "lnzd" not in labels
    colour = {label: to_hex(bar.get_facecolor()) for label, bar in zip(labels, ax.patches)}
    assert colour["pointer SRAM"] == colour["pointer read logic"] == PART_COLOURS["pointers"].lower()
    assert colour["sparse-matrix SRAM"] == PART_COLOURS["weight storage"].lower()
    assert colour["multiplier"] == colour["adder"] == PART_COLOURS["arithmetic"].lower()
    assert "blue: weight storage; sky blue: pointers; bluish green: arithmetic" in fig.caption


def test_matplotlib_style_is_applied_in_one_module():
    sources = {p.name: p.read_text() for p in (ROOT / "eiesim").rglob("*.py")}
    users = sorted(name for name, text in sources.items() if re.search(r"rc_context|rcParams|rcdefaults", text))
    assert users == ["style.py"]
