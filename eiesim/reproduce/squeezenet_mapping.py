"""The study behind ``eiesim reproduce squeezenet-mapping``: SqueezeNet on EIE, where the cycles go, what pixel groups win back.

EIE was built for fc layers; SqueezeNet is all convolutions. On the published 64-PE chip
with 8-bit codebook indices (arch_configs/eie-64pe-8bit.yaml) and the photo ``chelsea``,
the study runs the network with ``mapping.pixel_groups`` = 1, 2, 4, 8, 16 and ``auto``
(docs/timing-model.md, "Pixel groups"), with SRAM sizes ``auto`` so that every mapping
fits and the chip's area follows its storage, and once more with ``auto`` under the
published SRAM sizes (128 KB Spmat, 32 KB pointers per PE), where the greedy reduction
keeps the replicas within the chip as built.

For each row: total and compute cycles, the speedup over G = 1, energy and its split by
component (the cost model's pricing, read from the result), pointer reads, the per-PE SRAM
the weights need and whether that fits the published SRAMs, the chip area, and each
layer's G. The bound is the work at perfect balance: entries issued / N, the ``ideal``
part of the G = 1 run's cycle breakdown. Each row's compute cycles are set against it
(compute / bound, and the share of the G = 1 gap to the bound the row recovers); G = 1
compute / bound caps the compute speedup any mapping of this work can reach.

The workload is the real Deep-Compression SqueezeNet v1.0, the default network that ships
inside the package (``eiesim/data/squeezenet_dc/compressed_SqueezeNet.net``) or another
``.net`` / workload file given, decoded in memory
(``eiesim.importers.caffe.deep_compression.import_dc``; no file is written); on request
(``synthetic=True``) the bundled synthetic SqueezeNet (workloads/squeezenet-1.0-synthetic.npz),
labelled synthetic wherever the results go. Every number is measured by the simulator; none is fitted.
``mapping_study`` returns the data; the command (``eiesim.cli.reproduce.squeezenet_mapping``)
renders it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eiesim.network.workload import Workload
from eiesim.timing.contract import BREAKDOWN_PARTS

#: The fixed pixel-group counts of the study (each row is one full network simulation).
GROUPS: tuple[int, ...] = (1, 2, 4, 8, 16)
#: The photo every row runs on.
IMAGE = "chelsea"
#: The architecture: the default one, the published 64-PE chip with 8-bit codebook indices (package data).
ARCH_FILE = "eie-64pe-8bit.yaml"
#: SRAM sizes of the rows that size the SRAMs to the mapping.
AUTO_SRAMS = {"spmat_sram.size_bytes": "auto", "ptr_sram.size_bytes": "auto"}
#: Row labels of the two ``auto`` rows.
AUTO_LABEL = "auto"
AUTO_PUBLISHED_LABEL = "auto, published SRAMs"
#: How ``import_dc`` names the source of the real model (eiesim.importers.caffe.deep_compression).
DC_SOURCE = "Deep Compression SqueezeNet v1.0"


@dataclass(frozen=True)
class StudyWorkload:
    """The network the study runs and where it came from (``kind``: "real", "synthetic" or "file")."""

    workload: Workload
    kind: str
    path: str
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "label": self.label, "name": self.workload.name,
                "layers": len(self.workload.layers), "nnz": self.workload.nnz}


def default_real_model() -> Path | None:
    """The default network's Deep-Compression file (package data), if the installation has it."""
    from eiesim.config.defaults import DEFAULT_NETWORK

    return DEFAULT_NETWORK if DEFAULT_NETWORK.is_file() else None


def synthetic_path() -> Path:
    """The bundled synthetic SqueezeNet v1.0 (package data; workloads/squeezenet-1.0-synthetic.npz)."""
    from eiesim.config.defaults import SYNTHETIC_WORKLOAD, packaged

    return packaged(SYNTHETIC_WORKLOAD)


def study_workload(model: Path | None = None, synthetic: bool = False) -> StudyWorkload:
    """The study's network: ``model`` (a Deep-Compression .net file, or a workload .npz such as
    ``import-dc`` writes), else the default network (package data), else the synthetic one."""
    from eiesim.network.workload_file import load_workload

    if not synthetic:
        path = model or default_real_model()
        if path is not None:
            path = Path(path)
            if path.suffix == ".npz":
                wl = load_workload(path)
                return StudyWorkload(wl, _kind_of(wl), str(path), f"{wl.name} from {path.name} ({wl.source})")
            from eiesim.importers.caffe.deep_compression import import_dc

            return StudyWorkload(import_dc(path), "real", str(path),
                                 "the real Deep-Compression SqueezeNet v1.0 (decoded in memory from "
                                 f"{path.name})")
    path = synthetic_path()
    return StudyWorkload(load_workload(path), "synthetic", str(path),
                         "SYNTHETIC SqueezeNet v1.0 (the released model's per-layer densities, random weights; "
                         "not the real model)")


def _kind_of(workload: Workload) -> str:
    """'real' (written by import-dc), 'synthetic' (eiesim's generator) or 'file' (anything else) for a workload file."""
    text = f"{workload.name} {workload.source}".lower()
    if "synthetic" in text:
        return "synthetic"
    return "real" if workload.source.startswith(DC_SOURCE) else "file"


def published_arch():  # noqa: ANN201 - an ArchConfig
    """The published chip of the study: the default architecture (SRAM sizes fixed)."""
    from eiesim.config.defaults import published_arch as default_architecture

    return default_architecture()


def _configs(groups: Sequence[int], autos: bool) -> list[tuple[str, int | str, bool]]:
    """(label, pixel_groups, SRAM sizes auto) of every row, in table order."""
    rows: list[tuple[str, int | str, bool]] = [(f"G = {g}", g, True) for g in groups]
    if autos:
        rows += [(AUTO_LABEL, "auto", True), (AUTO_PUBLISHED_LABEL, "auto", False)]
    return rows


def _layer_row(stats: Any, priced: dict[str, Any]) -> dict[str, Any]:
    a = stats.actions
    return {
        "name": stats.name, "kind": stats.kind, "pixels": stats.pixels, "cycles": stats.cycles,
        "compute_cycles": stats.compute_cycles, "pixel_groups": stats.mapping["pixel_groups"],
        "group_pes": stats.mapping["group_pes"], "entries_processed": stats.entries_processed,
        "ptr_reads": a["ptr_reads"], "fifo_pushes": a["fifo_pushes"], "fifo_pops": a["fifo_pops"],
        "lnzd_ops": a["lnzd_ops"], "load_balance_efficiency": stats.load_balance_efficiency,
        "cycle_breakdown": dict(stats.cycle_breakdown),
        "cycle_breakdown_pe_cycles": {k: int(v) for k, v in stats.breakdown_pe_cycles.items()},
        "energy_pj": priced.get("energy_pj"),
    }


def _row(label: str, groups: int | str, auto_srams: bool, result: Any, published: Any) -> dict[str, Any]:
    totals = result.totals()
    costs = result.costs
    storage = result.storage
    spmat_pub, ptr_pub = published.spmat_sram.size_bytes, published.ptr_sram.size_bytes
    layers = [_layer_row(s, p) for s, p in zip(result.layers, costs.get("layers", [{}] * len(result.layers)))]
    return {
        "label": label, "pixel_groups": groups, "srams": "auto" if auto_srams else "published",
        "cycles": result.cycles, "compute_cycles": totals["compute_cycles"], "load_cycles": totals["load_cycles"],
        "store_cycles": totals["store_cycles"], "io_cycles": totals["io_cycles"], "time_us": result.time_us,
        "ideal_cycles": totals["cycle_breakdown"]["cycles"]["ideal"],
        "cycle_breakdown": dict(totals["cycle_breakdown"]["cycles"]),
        "entries_processed": sum(s.entries_processed for s in result.layers),
        "ptr_reads": totals["actions"]["ptr_reads"],
        "energy_pj": costs["energy"]["total_pj"], "on_chip_pj": costs["energy"]["on_chip_pj"],
        "dram_pj": costs["energy"]["dram_pj"], "energy_by_component_pj": dict(costs["energy"]["by_component_pj"]),
        "chip_mm2": costs["area"]["chip_mm2"],
        "spmat_bytes_per_pe": storage.spmat_bytes_max, "ptr_bytes_per_pe": storage.ptr_bytes_max,
        "spmat_capacity_bytes": storage.spmat_capacity_bytes, "ptr_capacity_bytes": storage.ptr_capacity_bytes,
        "resident": storage.resident,
        "fits_published_srams": storage.spmat_bytes_max <= spmat_pub and storage.ptr_bytes_max <= ptr_pub,
        "layer_groups": {s.name: s.mapping["pixel_groups"] for s in result.layers},
        "functional": result.check.get("functional"),
        "warnings": list(result.warnings),
        "layers": layers,
    }


def mapping_study(source: StudyWorkload | None = None, groups: Sequence[int] | None = None, autos: bool = True,
                  engine: str = "fast", check: bool = True,
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every row of the study and return it as one JSON-able dict (see the module docstring).

    ``groups``: the fixed G of the rows (default ``GROUPS``; must include 1, the baseline);
    ``autos``: also the two ``auto`` rows; ``check``: compare each run's outputs with the
    fixed-point reference; ``progress(label)`` is called before each row.
    """
    from eiesim.errors import UsageError
    from eiesim.run.simulate import simulate

    source = source or study_workload()
    groups = tuple(GROUPS if groups is None else groups)
    if 1 not in groups:
        raise UsageError(f"the study's groups must include 1 (the baseline), got {list(groups)}")
    published = published_arch()
    rows = []
    for label, g, auto_srams in _configs(groups, autos):
        if progress is not None:
            progress(label)
        arch = published.derive({"mapping.pixel_groups": g, **(AUTO_SRAMS if auto_srams else {})})
        result = simulate(arch, source.workload, input=IMAGE, engine=engine, check=check)
        rows.append(_row(label, g, auto_srams, result, published))
    base = next(r for r in rows if r["pixel_groups"] == 1)
    bound = base["ideal_cycles"]
    gap = base["compute_cycles"] - bound
    for r in rows:
        r["speedup"] = base["cycles"] / r["cycles"]
        r["compute_speedup"] = base["compute_cycles"] / r["compute_cycles"]
        r["compute_over_bound"] = r["compute_cycles"] / bound
        r["gap_recovered"] = (base["compute_cycles"] - r["compute_cycles"]) / gap if gap > 0 else 0.0
    return {
        "study": "squeezenet-mapping",
        "workload": source.to_dict(),
        "arch": {"file": ARCH_FILE, "name": published.name, "num_pes": published.num_pes,
                 "clock_mhz": published.clock_mhz, "published_spmat_bytes_per_pe": published.spmat_sram.size_bytes,
                 "published_ptr_bytes_per_pe": published.ptr_sram.size_bytes},
        "image": IMAGE, "engine": engine,
        "bound": {"ideal_compute_cycles": bound, "entries_processed": base["entries_processed"],
                  "num_pes": published.num_pes, "g1_compute_cycles": base["compute_cycles"],
                  "speedup_cap": base["compute_cycles"] / bound},
        "breakdown_parts": dict(BREAKDOWN_PARTS),
        "rows": rows,
    }
