"""``eiesim reproduce eie-table2``: the cost model against EIE Table II (one PE, 45 nm, 800 MHz).

Runs the engine on the synthetic Alex-7 layer on the published 64-PE design,
prices its computing phase (Table II's power was measured in computing mode)
with the default cost model, and prints per-PE area (total, by module, by type),
per-PE power (total, by module, by type), chip area and power, each with the
published value, % error and pass/fail against the issue-4 tolerances. Without
the engine it falls back to the stored reference activity (eiesim.costs.published).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from eiesim.arch import ArchConfig
from eiesim.atomic import write_text
from eiesim.costs import evaluate, fit_calibration
from eiesim.costs import published as pub

DRAM_ACTIONS = ("dram_bytes_read", "dram_bytes_written")


def alex7_activity(use_engine: bool = True) -> dict[str, Any]:
    """Alex-7's computing phase on the published design: {source, cycles, time_us, actions, whole_layer}."""
    arch = ArchConfig()
    if use_engine:
        try:
            from eiesim.models.synthetic import eie_fc_layer
            from eiesim.simulate import simulate
        except ImportError:
            use_engine = False
    if use_engine:
        a7 = pub.ALEX7
        workload = eie_fc_layer(a7["name"], a7["n_in"], a7["n_out"], a7["weight_density"], a7["act_density"])
        stats = simulate(arch, workload, check=False).layers[0].to_dict()
        cycles = int(stats["compute_cycles"])
        actions = {k: v for k, v in stats["actions"].items() if k not in DRAM_ACTIONS}
        source = "engine (fast), synthetic Alex-7, seed 0"
        whole = {"name": "Alex-7 (with I/O)", "cycles": stats["cycles"], "time_us": stats["time_us"],
                 "actions": stats["actions"]}
    else:
        cycles = pub.ALEX7_REFERENCE_COMPUTE_CYCLES
        actions = dict(pub.ALEX7_REFERENCE_COUNTS)
        source = "stored reference activity (engine not importable)"
        whole = None
    layer = {"name": "Alex-7 (computing)", "cycles": cycles, "time_us": cycles / arch.clock_mhz, "actions": actions}
    return {"source": source, "layer": layer, "whole_layer": whole}


#: What each Table II line is to the cost model (docs/cost-model.md, step 2): the fit targets, their sums,
#: and what follows from them. None of it is a prediction.
ROLE_TARGET = "fit target"
ROLE_SUM = "sum of fit targets"
ROLE_FOLLOWS = "follows: 64 PEs + LNZD tree + CCU"
ROLE_FILLER = "set from Table II (its filler share)"


def _row(what: str, model: float, paper: float, unit: str, role: str) -> dict[str, Any]:
    residual = (model - paper) / paper if paper else float("nan")
    return {"item": what, "model": model, "paper": paper, "unit": unit, "role": role,
            "residual_pct": 100 * residual}


def table2_comparison(use_engine: bool = True) -> dict[str, Any]:
    """The cost model against Table II at Alex-7 activity: the numbers it was fitted to, and the fit's residuals.

    The default model's module x type factors are fitted to exactly these numbers
    (iterative proportional fitting), so agreement shows that the fit converged, not
    that the model predicts Table II. The residuals are what is left: the fit's
    tolerance, and Table II's own rounding (its module powers add up to 9.158 mW,
    its total says 9.157).
    """
    arch = ArchConfig()
    activity = alex7_activity(use_engine)
    report = evaluate(arch, [activity["layer"]])
    area_module, area_type = report.pe_area_by()
    power_module, power_type = report.per_pe_power_by_mw()
    rows = [_row("PE area", report.pe_um2, pub.TABLE2_AREA_TOTAL_UM2, "um^2", ROLE_SUM)]
    rows += [_row(f"area {m}", area_module[m], pub.TABLE2_AREA_BY_MODULE_UM2[m], "um^2", ROLE_TARGET)
             for m in pub.TABLE2_MODULES]
    rows += [_row(f"area {t}", area_type[t], pub.TABLE2_AREA_BY_TYPE_UM2[t], "um^2",
                  ROLE_FILLER if t == "filler" else ROLE_TARGET) for t in pub.TABLE2_AREA_BY_TYPE_UM2]
    rows.append(_row("PE power", report.per_pe_power_mw(), pub.TABLE2_POWER_TOTAL_MW, "mW", ROLE_SUM))
    rows += [_row(f"power {m}", power_module[m], pub.TABLE2_POWER_BY_MODULE_MW[m], "mW", ROLE_TARGET)
             for m in pub.TABLE2_MODULES]
    rows += [_row(f"power {t}", power_type[t], pub.TABLE2_POWER_BY_TYPE_MW[t], "mW", ROLE_TARGET)
             for t in pub.TABLE2_TYPES]
    rows.append(_row("chip area", report.chip_mm2, pub.CHIP_AREA_MM2, "mm^2", ROLE_FOLLOWS))
    rows.append(_row("chip power", report.chip_power_mw() * 1e-3, pub.CHIP_POWER_W, "W", ROLE_FOLLOWS))
    extra: dict[str, Any] = {}
    if activity["whole_layer"] is not None:
        whole = evaluate(arch, [activity["whole_layer"]])
        extra = {"whole_layer_with_io": {"cycles": activity["whole_layer"]["cycles"],
                                         "time_us": activity["whole_layer"]["time_us"],
                                         "per_pe_mw": whole.per_pe_power_mw(), "chip_mw": whole.chip_power_mw(),
                                         "energy_pj": whole.total_pj, "dram_pj": whole.dram_pj}}
    fit = fit_calibration()
    fitted = [r for r in rows if r["role"] != ROLE_FOLLOWS]
    return {
        "activity_source": activity["source"],
        "compute_cycles": activity["layer"]["cycles"],
        "time_us": activity["layer"]["time_us"],
        "rows": rows,
        "calibrated": True,
        "max_fit_residual_pct": max(abs(r["residual_pct"]) for r in fitted),
        "calibration": {"power_module": dict(fit.power_module), "power_type": dict(fit.power_type),
                        "area_module": dict(fit.area_module), "area_type": dict(fit.area_type),
                        "filler_fraction": fit.filler_fraction, "lnzd_unit_pj_per_op": fit.lnzd_unit_pj_per_op},
        "provenance": report.costs.provenance,
        **extra,
    }


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


@click.command("eie-table2")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the comparison as JSON to this file.")
@click.option("--no-engine", is_flag=True, help="Use the stored Alex-7 activity instead of running the engine.")
def command(json_path: Path | None, no_engine: bool) -> None:
    """Cost model vs EIE Table II, which it is calibrated to: per-PE area and power, chip mm^2 and W, fit residuals."""
    from rich.console import Console
    from rich.table import Table

    result = table2_comparison(use_engine=not no_engine)
    table = Table(title=f"EIE Table II and the eiesim cost model, which is calibrated to it (Alex-7 activity: "
                        f"{result['activity_source']}, {result['compute_cycles']} compute cycles)")
    for col in ("item", "model", "paper", "unit", "residual %", "role"):
        table.add_column(col, justify="left" if col in ("item", "unit", "role") else "right")
    for r in result["rows"]:
        table.add_row(r["item"], _fmt(r["model"]), _fmt(r["paper"]), r["unit"], f"{r['residual_pct']:+.2f}", r["role"])
    console = Console()
    console.print(table)
    if "whole_layer_with_io" in result:
        w = result["whole_layer_with_io"]
        console.print(f"whole layer incl. I/O ({w['cycles']} cycles, {w['time_us']:.2f} us): "
                      f"{w['per_pe_mw']:.3f} mW per PE, {w['chip_mw']:.1f} mW chip, "
                      f"{w['energy_pj'] / 1e6:.3f} uJ (DRAM {w['dram_pj'] / 1e6:.3f} uJ)")
    console.print(
        f"calibrated to these numbers: the largest fit residual is {result['max_fit_residual_pct']:.3f} % "
        "(Table II's module powers add up to 9.158 mW, its total says 9.157). Agreement here shows that the fit "
        "converged, not that the model predicts Table II; the chip lines follow from the fitted PE plus the "
        "LNZD tree and CCU.")
    console.print(f"where the numbers come from: {result['provenance']}")
    if json_path is not None:
        write_text(json_path, json.dumps(result, indent=2) + "\n")
