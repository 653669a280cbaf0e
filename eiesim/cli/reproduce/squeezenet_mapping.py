"""``eiesim reproduce squeezenet-mapping``: renders ``eiesim.reproduce.squeezenet_mapping.mapping_study``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from eiesim.cli.reproduce.squeezenet_mapping_report import (
    OUT_FILES,
    PART_LABELS,
    breakdown_rows,
    out_files,
    results_json,
    workload_tag,
)
from eiesim.cli.reproduce.squeezenet_source import finish_study, source_options, study_source

#: Short mapping labels for the narrow columns of the energy table.
_SHORT = {"auto, published SRAMs": "auto pub."}


def _k(value: float) -> str:
    return f"{value / 1e3:,.0f}"


def _print_rows(console: Any, study: dict[str, Any]) -> None:
    from rich.table import Table

    tag = workload_tag(study)
    rows = study["rows"]
    t = Table(title=f"Pixel groups on {tag}: time (cycles)")
    for col in ("mapping", "cycles", "compute", "speedup", "vs bound", "gap won"):
        t.add_column(col, justify="left" if col == "mapping" else "right", no_wrap=True)
    for r in rows:
        t.add_row(r["label"], f"{r['cycles']:,}", f"{r['compute_cycles']:,}", f"{r['speedup']:.3f}x",
                  f"{r['compute_over_bound']:.3f}", f"{100 * r['gap_recovered']:.1f} %")
    console.print(t)
    b = study["bound"]
    console.print(
        f"bound = ideal compute = {b['entries_processed']:,} entries / {b['num_pes']} PEs = "
        f"{b['ideal_compute_cycles']:,.0f} cycles; speedup cap = G = 1 compute / bound = "
        f"{b['speedup_cap']:.3f}x. vs bound = compute / bound; gap won = share of the G = 1 gap "
        "(compute - bound) the row recovers; speedup is on total cycles.", highlight=False)
    pub = study["arch"]
    c = Table(title=f"Pixel groups on {tag}: what they cost")
    # "SRAMs" stands beside mJ and mm², which it sets: `eiesim run` prices the published SRAMs.
    for col in ("mapping", "SRAMs", "mJ", "mm²", "ptr reads", "Spmat B/PE", "ptr B/PE", "fits"):
        c.add_column(col, justify="left" if col in ("mapping", "SRAMs") else "right", no_wrap=col in ("mapping", "SRAMs"))
    for r in rows:
        c.add_row(r["label"], "sized to fit" if r["srams"] == "auto" else "published", f"{r['energy_pj'] / 1e9:.3f}",
                  f"{r['chip_mm2']:.2f}", f"{r['ptr_reads'] / 1e6:.1f} M",
                  f"{r['spmat_bytes_per_pe']:,}", f"{r['ptr_bytes_per_pe']:,}",
                  "yes" if r["fits_published_srams"] else "no")
    console.print(c)
    console.print(
        "SRAMs = the SRAM sizes priced: sized to fit the weights (auto) or the published chip's (as `eiesim run` "
        "prices them); mJ = energy per inference and mm² = chip area, both priced with those SRAMs; B/PE = per-PE "
        "SRAM the weights need (all layers resident, replicas included); fits = within the "
        f"published {pub['published_spmat_bytes_per_pe']:,} B Spmat and {pub['published_ptr_bytes_per_pe']:,} B "
        "pointer SRAM.", highlight=False)
    functional = {r["functional"] for r in rows}
    if functional != {None}:
        console.print(f"functional check (outputs vs the fixed-point reference, every row): "
                      f"{', '.join(sorted(str(f) for f in functional))}", highlight=False)


def _print_energy(console: Any, study: dict[str, Any]) -> None:
    from rich.table import Table

    rows = study["rows"]
    t = Table(title=f"Energy by component (mJ), {workload_tag(study)}")
    t.add_column("component", no_wrap=True)
    for r in rows:
        t.add_column(_SHORT.get(r["label"], r["label"].replace(" ", "")), justify="right")
    for comp in rows[0]["energy_by_component_pj"]:
        t.add_row(comp, *(f"{r['energy_by_component_pj'].get(comp, 0.0) / 1e9:.3f}" for r in rows))
    t.add_row("total", *(f"{r['energy_pj'] / 1e9:.3f}" for r in rows), end_section=True)
    console.print(t)


def _print_groups(console: Any, study: dict[str, Any]) -> None:
    from rich.table import Table

    rows = study["rows"]
    autos = [r for r in rows if not isinstance(r["pixel_groups"], int)]
    if not autos:
        return
    t = Table(title=f"G per layer chosen by auto, {workload_tag(study)} (kcycles)")
    t.add_column("layer", no_wrap=True)
    t.add_column("G=1 kcyc", justify="right")
    for r in autos:
        short = _SHORT.get(r["label"], r["label"])
        t.add_column(f"{short} G", justify="right")
        t.add_column(f"{short} kcyc", justify="right")
    for i, layer in enumerate(rows[0]["layers"]):
        t.add_row(layer["name"], _k(layer["cycles"]),
                  *(v for r in autos for v in (str(r["layers"][i]["pixel_groups"]), _k(r["layers"][i]["cycles"]))))
    console.print(t)


def _print_breakdown(console: Any, study: dict[str, Any]) -> None:
    from rich.table import Table

    parts = list(study["breakdown_parts"])
    for r in breakdown_rows(study):
        t = Table(title=f"Where the cycles go, {r['label']}, {workload_tag(study)} (kcycles)")
        t.add_column("layer", no_wrap=True)
        t.add_column("G", justify="right")
        for p in parts:
            t.add_column(PART_LABELS.get(p, p), justify="right")
        t.add_column("total", justify="right")
        for layer in r["layers"]:
            t.add_row(layer["name"], str(layer["pixel_groups"]),
                      *(_k(layer["cycle_breakdown"].get(p, 0.0)) for p in parts), _k(layer["cycles"]))
        t.add_row("network", "", *(_k(r["cycle_breakdown"].get(p, 0.0)) for p in parts), _k(r["cycles"]),
                  end_section=True)
        console.print(t)
    console.print("parts (docs/timing-model.md, \"Where the cycles go\"): "
                  + "; ".join(f"{PART_LABELS.get(p, p)}: {d}" for p, d in study["breakdown_parts"].items()),
                  highlight=False)


@click.command("squeezenet-mapping")
@source_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write report.md, report.html, results.json and the figures (SVG, PDF, PNG) to this "
                   "directory (replaced as a whole).")
@click.option("--no-check", is_flag=True,
              help="Skip the comparison of each run's outputs with the fixed-point reference (about 1 s a row).")
def command(model: Path | None, synthetic: bool, json_path: Path | None, out_dir: Path | None, no_check: bool) -> None:
    """SqueezeNet on the 8-bit EIE: pixel groups G = 1..16 and auto, cycles vs the bound, cost, where the cycles go."""
    from rich.console import Console

    from eiesim.reproduce.squeezenet_mapping import mapping_study

    source, err = study_source(model, synthetic, out_dir, OUT_FILES)
    study = mapping_study(source, check=not no_check, progress=lambda label: err.log(f"simulating {label}"))
    console = Console()
    if source.kind == "synthetic":
        why = "as asked" if synthetic or model is not None else \
            "this installation lacks the real Deep-Compression SqueezeNet (see --model)"
        console.print(f"SYNTHETIC workload ({why}): the numbers below are for a synthetic SqueezeNet with the real "
                      "model's per-layer densities, not for the real model.", highlight=False)
    _print_rows(console, study)
    _print_energy(console, study)
    _print_groups(console, study)
    _print_breakdown(console, study)
    finish_study(study, {w for r in study["rows"] for w in r["warnings"]}, json_path, out_dir, results_json, out_files,
                 f"report.md, report.html, results.json and {len(OUT_FILES) - 3} figure files", console, err)
