"""What the SRAMs hold: codebook width, pointer width, SRAM sizes, residency and streaming (docs/timing-model.md section 1).

* ``check_codebook_bits``: a workload whose codebooks need more index bits than the
  architecture's ``codebook_bits`` is rejected.
* ``resolve_storage``: pointer widths (a PE's pointers run 0 .. its entries of a layer;
  ``auto`` takes the narrowest width that serves every layer, a fixed width too narrow
  is widened with a warning), ``auto`` SRAM sizes, residency (every PE's sum over all
  layers fits both SRAMs: preloaded once) and, when not resident, the bytes each layer
  streams from DRAM (``dram.sram_overflow: stream``) or the error (``error``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from eiesim.config.arch import MAX_POINTER_BITS, MIN_POINTER_BITS, ArchConfig, legal_sram_size
from eiesim.errors import ArchError
from eiesim.network.workload import Workload

if TYPE_CHECKING:  # the layouts are the encoding's; the rules here need only their sizes
    from eiesim.encoding import ColumnLayout


def replicated_bytes_per_pe(enc: ColumnLayout, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """(Spmat, pointer) bytes every PE of the chip holds of a layer stored once per pixel group: PE p holds
    group PE p mod (N / G)'s share of ``enc``, the layer encoded for one group (section 2, "Pixel groups")."""
    return np.tile(enc.spmat_bytes_per_pe, groups), np.tile(enc.ptr_bytes_per_pe, groups)


def fits(arch: ArchConfig, spmat_bytes: np.ndarray, ptr_bytes: np.ndarray) -> bool:
    """Whether per-PE needs fit the configured SRAMs (an 'auto' size always fits: it is sized to the need)."""
    s, p = arch.spmat_sram.size_bytes, arch.ptr_sram.size_bytes
    return (s == "auto" or int(spmat_bytes.max()) <= s) and (p == "auto" or int(ptr_bytes.max()) <= p)


def _refuse_groups(cumulative: list[tuple[str, np.ndarray, np.ndarray]], groups: dict[str, int], s_cap: int,
                   p_cap: int) -> None:
    """ArchError naming the first layer at which replicated weights no longer fit (pixel groups need residency),
    and the grouped layers up to it with their bytes on the PE that overflows."""
    for i, (name, s, p) in enumerate(cumulative):
        for what, k, need, cap in (("Spmat SRAM", 1, s, s_cap), ("pointer SRAM", 2, p, p_cap)):
            if need.max() > cap:
                pe = int(need.argmax())
                shares = []
                for j, (other, *sums) in enumerate(cumulative[:i + 1]):
                    if groups[other] > 1:
                        before = cumulative[j - 1][k][pe] if j else 0
                        shares.append(f"{other!r} x{groups[other]}: {int(sums[k - 1][pe] - before):,} B")
                raise ArchError(
                    f"pixel groups: at layer {name!r}, PE {pe} needs {int(need[pe]):,} bytes of {what} for the "
                    f"layers up to it but has {cap:,} (layers stored once per group: {', '.join(shares)}); pixel "
                    "groups keep every layer resident: use fewer groups, mapping.pixel_groups=auto, or "
                    "spmat_sram.size_bytes=auto and ptr_sram.size_bytes=auto")


@dataclass(frozen=True)
class StorageSummary:
    """Per-PE SRAM needs of the whole workload, whether the weights stay resident, and what to warn about."""

    spmat_bytes_max: int
    ptr_bytes_max: int
    spmat_capacity_bytes: int
    ptr_capacity_bytes: int
    resident: bool
    pointer_bits_needed: int = 0
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        del out["warnings"]  # reported once, in the report's ``warnings``
        return out


def check_codebook_bits(arch: ArchConfig, workload: Workload) -> None:
    """Reject workloads whose codebook indices are wider than the architecture's."""
    need = max(layer.codebook_bits for layer in workload.layers)
    if need > arch.codebook_bits:
        worst = max(workload.layers, key=lambda layer: layer.codebook_bits)
        raise ArchError(
            f"workload {workload.name!r} needs {need}-bit codebook indices (layer {worst.name!r} has "
            f"{len(worst.codebook)} shared weights) but the architecture has codebook_bits={arch.codebook_bits}; "
            f"use arch_configs/eie-64pe-8bit.yaml (or a config with codebook_bits >= {need}) or re-quantize with "
            f"`eiesim compress --bits {arch.codebook_bits}`")


def resolve_storage(arch: ArchConfig, workload: Workload, encoded: dict[str, ColumnLayout],
                    pixel_groups: dict[str, int] | None = None,
                    ) -> tuple[ArchConfig, StorageSummary, dict[str, int]]:
    """Resolve pointer widths and 'auto' SRAM sizes, decide residency, and the bytes each layer streams.

    Pointers must address every entry a PE holds for a layer (docs/timing-model.md section 1).
    ``pointer_bits: auto`` resolves to the narrowest width (>= 8) that addresses every layer. A
    fixed width too narrow for some layer (the published 16 bits address 65,535 entries; VGG-6
    puts 101,002 on one PE) is widened to what the workload needs, and the summary's
    ``warnings`` say so, naming the layer, the PE, its entries and the bits. The layouts in
    ``encoded`` are replaced by ones with the resolved width. Returns (resolved arch, summary,
    {layer: streamed weight bytes}).

    ``pixel_groups``: {layer: G} for layers mapped on G pixel groups (section 2); their
    layouts in ``encoded`` are one group's (N / G PEs), and every group stores them (PE p
    holds group PE p mod N / G's share). Pixel groups need every layer resident: if the
    weights do not fit, an ArchError names the first grouped layer at which they no longer do.
    """
    groups = {layer.name: (pixel_groups or {}).get(layer.name, 1) for layer in workload.layers}
    n = arch.num_pes
    needed = {layer.name: encoded[layer.name].pointer_bits_needed for layer in workload.layers}
    need_max = max(needed.values(), default=0)
    configured = arch.ptr_sram.pointer_bits
    bits = max(MIN_POINTER_BITS, need_max) if configured == "auto" else max(int(configured), need_max)
    warnings: list[str] = []
    worst = max(workload.layers, key=lambda layer: needed[layer.name])
    enc = encoded[worst.name]
    pe = int(enc.entries_per_pe.argmax())
    if need_max > MAX_POINTER_BITS:
        raise ArchError(f"layer {worst.name!r}: PE {pe} holds {int(enc.entries_per_pe[pe]):,} entries, which needs "
                        f"{need_max}-bit pointers; eiesim supports at most {MAX_POINTER_BITS} (use more PEs)")
    if configured != "auto" and need_max > int(configured):
        warnings.append(
            f"ptr_sram.pointer_bits: {configured}-bit pointers address at most {(1 << int(configured)) - 1:,} entries, "
            f"but PE {pe} holds {int(enc.entries_per_pe[pe]):,} of layer {worst.name!r}: simulated with {bits}-bit "
            f"pointers (pointer storage and SRAM sizing at {bits} bits; set ptr_sram.pointer_bits: {bits} or auto "
            "to say so in the configuration)")
    for layer in workload.layers:
        if encoded[layer.name].pointer_bits != bits:
            encoded[layer.name] = replace(encoded[layer.name], pointer_bits=bits)
    arch = arch.model_copy(update={"ptr_sram": arch.ptr_sram.model_copy(update={"pointer_bits": bits})})
    spmat = np.zeros(n, np.int64)
    ptr = np.zeros(n, np.int64)
    cumulative = []
    for layer in workload.layers:
        layer_spmat, layer_ptr = replicated_bytes_per_pe(encoded[layer.name], groups[layer.name])
        spmat += layer_spmat
        ptr += layer_ptr
        cumulative.append((layer.name, spmat.copy(), ptr.copy()))
    s_cfg, p_cfg = arch.spmat_sram, arch.ptr_sram
    if s_cfg.size_bytes == "auto":
        s_cfg = s_cfg.model_copy(update={"size_bytes": legal_sram_size(int(spmat.max()), s_cfg.width_bits)})
    if p_cfg.size_bytes == "auto":
        size = legal_sram_size(int(ptr.max()), bits, p_cfg.banks)  # bits: the pointer width set above
        p_cfg = p_cfg.model_copy(update={"size_bytes": size})
    arch = arch.model_copy(update={"spmat_sram": s_cfg, "ptr_sram": p_cfg})
    s_cap, p_cap = int(s_cfg.size_bytes), int(p_cfg.size_bytes)
    resident = bool(spmat.max() <= s_cap and ptr.max() <= p_cap)
    if not resident and max(groups.values(), default=1) > 1:
        _refuse_groups(cumulative, groups, s_cap, p_cap)
    if not resident and arch.dram.sram_overflow == "error":
        for name, s, p in cumulative:
            for what, need, cap in (("Spmat SRAM", s, s_cap), ("pointer SRAM", p, p_cap)):
                if need.max() > cap:
                    pe = int(need.argmax())
                    raise ArchError(
                        f"the weights do not fit on chip: at layer {name!r}, PE {pe} needs {int(need[pe])} bytes of "
                        f"{what} (all layers so far) but has {cap}; set spmat_sram.size_bytes (and "
                        f"ptr_sram.size_bytes) to auto, or dram.sram_overflow to stream")
    stream = {layer.name: 0 if resident else int((encoded[layer.name].spmat_bytes_per_pe
                                                  + encoded[layer.name].ptr_bytes_per_pe).sum())
              for layer in workload.layers}
    summary = StorageSummary(int(spmat.max()), int(ptr.max()), s_cap, p_cap, resident, need_max, tuple(warnings))
    return arch, summary, stream
