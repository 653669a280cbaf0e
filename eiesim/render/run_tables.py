"""A run's terminal tables: per layer, where the cycles go, totals, energy, cost, and per image.

Each function returns a rich ``Table`` (nothing here prints; the CLI does); long tables
show their first and last rows (``eiesim.render.bounded_tables``). Every number follows the
one table rule of ``eiesim.render.numbers`` (counts in full, other values to 4 significant
digits).
"""

from __future__ import annotations

from rich.table import Table

from eiesim.render.bounded_tables import shown
from eiesim.render.numbers import format_count as _n_int
from eiesim.render.numbers import format_number as _n
from eiesim.render.numbers import format_percent
from eiesim.run.multi_image import MultiImageResult
from eiesim.run.result import SimulationResult
from eiesim.timing.contract import BREAKDOWN_PARTS

#: Abbreviated headers of the terminal tables and what they mean (printed as the tables' legend).
LAYER_TABLE_LEGEND = {
    "I/O, load, compute, store": "cycles of each phase (docs/timing-model.md)",
    "nz acts": "non-zero input activations broadcast by the CCU",
    "entries": "entries issued to the PE pipelines (real weights + padding entries)",
    "padding": "padding entries: zero entries that bridge a zero run longer than a relative index encodes",
    "bcast stall": "cycles the CCU held a ready activation because a FIFO was full",
    "ALU util.": "busy PE cycles / (PEs x compute cycles)",
}
ENERGY_TABLE_LEGEND = {
    "Spmat": "sparse-matrix SRAM and its read logic", "Ptr": "pointer SRAM and its read logic",
    "Arith": "codebook, multiplier, adder, bypass, pipeline registers",
    "Act": "activation FIFO, register files and SRAM", "LNZD+CCU": "leading-non-zero detection tree and CCU",
    "time x power": "the EIE paper's method: layer time x chip power at the Alex-7 activity",
}


def _legend(items: dict[str, str]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in items.items())


def images_table(multi: MultiImageResult) -> Table:
    """One row per image: cycles, time, energy, frames/s, functional check; then mean / min / max."""
    table = Table(title=f"{multi.first.workload.name} on {multi.first.arch.name}: {len(multi.results)} images",
                  caption="mean / min / max over the images; check: functional check vs the fixed-point reference")
    for col in ("image", "cycles", "time us", "energy uJ", "frames/s", "check"):
        table.add_column(col, justify="left" if col == "image" else "right", no_wrap=col != "image")
    for img in multi.per_image():
        table.add_row(img["input"], _n_int(img["cycles"]), _n(img["time_us"]), _n(img["energy_pj"] / 1e6),
                      _n(img["frames_per_s"]), img["functional"])
    stats = multi.stats()["totals"]
    table.add_section()
    for stat in ("mean", "min", "max"):
        table.add_row(stat, _n_int(stats["cycles"][stat]), _n(stats["time_us"][stat]),
                      _n(stats["energy_pj"][stat] / 1e6), _n(stats["frames_per_s"][stat]), "")
    return table


def image_layers_table(multi: MultiImageResult) -> Table:
    """Per layer: cycles and input density, mean / min / max over the images."""
    table = Table(title="Per layer over the images: cycles and input density (non-zero fraction)",
                  caption="spread = (max - min) / mean of the cycles")
    for col in ("layer", "cycles mean", "min", "max", "spread", "density mean", "min ", "max "):
        table.add_column(col, justify="left" if col == "layer" else "right", no_wrap=True)
    for layer in multi.stats()["layers"]:
        c, d = layer["cycles"], layer["input_density"]
        rel = (c["max"] - c["min"]) / c["mean"] if c["mean"] else 0.0
        table.add_row(layer["name"], _n_int(c["mean"]), _n_int(c["min"]), _n_int(c["max"]), f"{format_percent(rel)} %",
                      _n(d["mean"]), _n(d["min"]), _n(d["max"]))
    return table


def layers_table(result: SimulationResult) -> Table:
    """Per-layer rich table: cycles by phase, work, stalls, efficiency."""
    arch = result.arch
    table = Table(title=f"{result.workload.name} on {arch.name} ({arch.num_pes} PEs, {arch.clock_mhz:g} MHz), "
                        f"{result.engine} engine", caption=_legend(LAYER_TABLE_LEGEND), caption_justify="left")
    cols = ("layer", "cycles", "time us", "I/O", "load", "compute", "store", "nz acts", "entries",
            "padding", "bcast stall", "ALU util.")
    for c in cols:
        table.add_column(c, justify="left" if c == "layer" else "right", no_wrap=True)
    for s in shown(result.layers, table, "layers", "every layer is in the --json / --out report"):
        table.add_row(
            s.name, _n_int(s.cycles), _n(s.time_us), _n_int(s.io_cycles), _n_int(s.load_cycles),
            _n_int(s.compute_cycles), _n_int(s.store_cycles), _n_int(s.nonzero_activations),
            _n_int(s.entries_processed), _n_int(s.padding_entries), _n_int(s.broadcast_stall_cycles),
            _n(s.load_balance_efficiency))
    return table


#: Headers of the "where the cycles go" table, one per part of timing.contract.BREAKDOWN_PARTS (in that order).
BREAKDOWN_HEADERS = {"ideal": "ideal", "idle_pes": "idle PEs", "imbalance": "imbalance", "finder": "finder",
                     "drain": "drain", "load": "load", "store": "store", "io": "I/O"}


def breakdown_table(result: SimulationResult) -> Table | None:
    """Per layer and for the network: the cycles of each part of the cycle breakdown and its share.

    A part's cycles are the layer's PE cycles of that part / N (docs/timing-model.md, "Where the
    cycles go"), so a row's parts add up to its cycles. The pixel groups of each layer (G) are
    shown when some layer has G != 1, with the G = 1 candidate's time over the chosen one's when
    ``mapping.pixel_groups: auto`` tried several. None when no layer has a breakdown.
    """
    layers = result.layers
    if not any(s.breakdown_pe_cycles for s in layers):
        return None
    groups = any(s.mapping.get("pixel_groups", 1) != 1 for s in layers)
    auto = groups and any(s.mapping.get("auto_cycles") for s in layers)
    legend = {"cycles": "the layer's cycles; each part: its PE cycles / N and its share of the layer's cycles"}
    if groups:
        legend["G"] = "pixel groups (mapping.pixel_groups) of N / G PEs each; fc and one-pixel layers use 1"
    if auto:
        legend["vs G=1"] = ("auto: the slowest group's time at G = 1 / at the chosen G (every candidate tried is "
                            "in report.json, layers[].mapping.auto_cycles)")
    legend.update({BREAKDOWN_HEADERS[name]: meaning for name, meaning in BREAKDOWN_PARTS.items()})
    table = Table(title="Where the cycles go (docs/timing-model.md)", caption=_legend(legend), caption_justify="left")
    for col in ("layer", *(["G"] if groups else []), *(["vs G=1"] if auto else []), "cycles",
                *(BREAKDOWN_HEADERS[name] for name in BREAKDOWN_PARTS)):
        table.add_column(col, justify="left" if col == "layer" else "right", no_wrap=True)

    def parts(cycles: int, by_part: dict[str, float]) -> list[str]:
        return [f"{_n_int(by_part.get(name, 0.0))} "
                f"{format_percent(by_part.get(name, 0.0) / cycles if cycles else 0.0):>5}%"
                for name in BREAKDOWN_PARTS]

    for s in shown(layers, table, "layers", "every layer is in the --json / --out report"):
        mapping = s.mapping
        g = mapping.get("pixel_groups", 1)
        lead = [str(g)] if groups else []
        if auto:
            tried = mapping.get("auto_cycles") or {}
            base, chosen = tried.get("1"), tried.get(str(g))
            lead.append(f"{_n(base / chosen)}x" if base and chosen else "")
        table.add_row(s.name, *lead, _n_int(s.cycles), *parts(s.cycles, s.cycle_breakdown))
    table.add_section()
    table.add_row("network", *[""] * (groups + auto), _n_int(result.cycles),
                  *parts(result.cycles, result.cycle_breakdown()["cycles"]))
    return table


def totals_table(result: SimulationResult) -> Table:
    """Whole-inference totals and the functional check."""
    t = result.totals()
    table = Table(title="Totals", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("cycles", _n_int(t["cycles"]))
    table.add_row("time", f"{_n(t['time_us'])} us")
    table.add_row("frames/s", _n(t["frames_per_s"]))
    table.add_row("cycles: I/O / load / compute / store",
                  " / ".join(_n_int(t[k]) for k in ("io_cycles", "load_cycles", "compute_cycles", "store_cycles")))
    table.add_row("MACs (incl. padding entries) / real", f"{_n_int(t['macs'])} / {_n_int(t['real_macs'])}")
    table.add_row("DRAM bytes read / written",
                  f"{_n_int(t['actions']['dram_bytes_read'])} / {_n_int(t['actions']['dram_bytes_written'])}")
    st = result.storage
    table.add_row("weights", "resident on chip" if st.resident else "streamed from DRAM every inference")
    table.add_row("Spmat / pointer SRAM per PE (max need / size)",
                  f"{_n_int(st.spmat_bytes_max)} / {_n_int(st.spmat_capacity_bytes)} B, "
                  f"{_n_int(st.ptr_bytes_max)} / {_n_int(st.ptr_capacity_bytes)} B")
    host = result.host_work
    if host is not None:
        table.add_row("host work (not in the cycles): ops / operations",
                      f"{_n_int(host['ops'])} / {_n_int(host['operations'])} ({_n_int(host['multiplies'])} mul, "
                      f"{_n_int(host['adds'])} add, {_n_int(host['exps'])} exp, {_n_int(host['divides'])} div, "
                      f"{_n_int(host['others'])} other)")
        table.add_row("host work: bytes from / to the chip",
                      f"{_n_int(host['bytes_from_chip'])} / {_n_int(host['bytes_to_chip'])}")
        table.add_row("host results clipped back to fixed point", _n_int(host["saturations"]))
    chk = result.check
    if chk:
        line = f"{chk['functional']} (max abs error {_n(chk['max_abs_error'])})"
        if chk.get("top1") is not None:
            line += f", top-1 {chk['top1']} (reference {chk['reference_top1']})"
        elif chk.get("top1_token_agreement") is not None:
            line += f", top-1 per token: {chk['top1_token_agreement']:.0%} of tokens agree with the reference"
        table.add_row("functional check vs fixed-point reference", line)
    return table


#: How the energy table groups the cost model's components (display only; the JSON keeps each one).
ENERGY_GROUPS = {
    "Spmat": ("spmat_sram", "spmat_read_logic"),
    "Ptr": ("ptr_sram", "ptr_read_logic"),
    "Arith": ("codebook", "multiplier", "adder", "bypass", "pipeline_regs"),
    "Act": ("act_fifo", "act_regfiles", "act_sram"),
    "Clock": ("clock_network",),
    "LNZD+CCU": ("lnzd", "ccu"),
    "DRAM": ("dram",),
}


def energy_table(result: SimulationResult) -> Table | None:
    """Per-layer energy (uJ) split by component group, and the paper's time x power estimate."""
    costs = result.costs
    if not costs:
        return None
    table = Table(title=f"Energy per layer, uJ ({costs['cost_model']} cost model; docs/cost-model.md)",
                  caption=_legend(ENERGY_TABLE_LEGEND), caption_justify="left")
    table.add_column("layer", no_wrap=True)
    for c in ("total", *ENERGY_GROUPS, "other", "time x power"):
        table.add_column(c, justify="right", no_wrap=True)
    grouped = {name for names in ENERGY_GROUPS.values() for name in names}
    for layer in shown(costs["layers"], table, "layers", "every layer is in the --json / --out report"):
        parts = layer["energy_by_component_pj"]
        cells = [sum(parts.get(n, 0.0) for n in names) for names in ENERGY_GROUPS.values()]
        other = sum(v for n, v in parts.items() if n not in grouped)
        table.add_row(layer["name"], _n(layer["energy_pj"] / 1e6), *(_n(c / 1e6) for c in cells),
                      _n(other / 1e6), _n(layer["paper_method_energy_pj"] / 1e6))
    return table


def cost_table(result: SimulationResult) -> Table | None:
    """Energy, power, area and figures of merit of the whole inference."""
    costs = result.costs
    if not costs:
        return None
    e, p, a, f = costs["energy"], costs["power"], costs["area"], costs["figures_of_merit"]
    table = Table(title="Energy, power, area", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("energy: total / on-chip / DRAM",
                  " / ".join(_n(e[k] / 1e6) for k in ("total_pj", "on_chip_pj", "dram_pj")) + " uJ")
    table.add_row("energy, paper's method (time x power)", f"{_n(costs['paper_method']['energy_pj'] / 1e6)} uJ")
    table.add_row("average power: per PE / chip", f"{_n(p['per_pe_mw'])} / {_n(p['chip_mw'])} mW")
    modules = ", ".join(f"{k} {_n(v)}" for k, v in a["pe_by_module_um2"].items())
    table.add_row("area per PE", f"{_n(a['pe_um2'])} um^2 ({modules})")
    # The SRAM sizes priced, beside the numbers they set: another command may price the same run with
    # SRAMs sized to fit (reproduce squeezenet-mapping), and its energy and area differ for that reason.
    srams = (f"SRAMs per PE as priced: Spmat {_kib(result.storage.spmat_capacity_bytes)}, "
             f"pointers {_kib(result.storage.ptr_capacity_bytes)}")
    table.add_row("chip area", f"{_n(a['chip_mm2'])} mm^2 ({srams})")
    table.add_row("frames/J, GOP/s, frames/s/mm^2",
                  ", ".join(_n(f[k]) for k in ("frames_per_j", "gop_per_s", "frames_per_s_per_mm2")))
    return table


def _kib(size_bytes: int) -> str:
    """``131072`` -> ``"128 KB"`` (KB = 1024 B, as the SRAM sizes are given)."""
    kib = size_bytes / 1024
    return f"{_n(int(kib) if kib.is_integer() else kib)} KB"
