"""The default cost model: CACTI-grid SRAMs plus gate-level logic, calibrated to EIE Table II.

How a number is made (docs/cost-model.md has the full table of constants):

1. **First guess, from physics.** SRAM area, access energy and leakage come from
   the CACTI grid (eiesim.costs.cacti). Logic is sized in flip-flops and NAND2
   gate equivalents (GE) from the architecture (register-file depth, FIFO depth,
   datapath width, ...), with NanGate 45 nm cell areas; its energy per action is
   GE switched x an energy per GE derived from Horowitz's 32-bit add (0.1 pJ),
   except the multiplier, which uses Horowitz's multiply figure directly.
2. **Calibration to Table II.** For the published 64-PE design at the Alex-7
   activity (published.ALEX7_REFERENCE_RATES), the first-guess per-PE power is a
   module x type matrix; a biproportional fit (iterative proportional fitting)
   finds one factor per Table II module and one per type such that the matrix's
   row and column sums equal Table II's module and type powers. Area is fitted the
   same way to Table II's module and type areas; filler is a fixed fraction of the
   placed area. The factors multiply every later estimate of a component in that
   module and of that type, whatever the architecture.
3. **Other nodes**: logic areas and energies scale with Stillmaker & Baas
   (eiesim.costs.scaling); SRAMs come from the CACTI grid at 45/28 nm or scaled.

Components outside the PE (LNZD tree, CCU) and DRAM are not in Table II and are
priced from the paper's own numbers (LNZD), an explicit assumption (CCU) and
20 pJ/bit (DRAM), without calibration. With pixel groups the chip carries a finder and a
CCU per group (``group_lnzd_units``) and a layer in G groups is charged G groups' worth
(docs/cost-model.md, "Pixel groups").
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from eiesim.config.arch import ArchConfig, content_key
from eiesim.config.defaults import paper_arch
from eiesim.costs import published as pub
from eiesim.costs.breakdown import pe_area_matrix_um2, pe_power_matrix_mw
from eiesim.costs.cacti import SramEstimate, sram_estimate
from eiesim.costs.groups import hardware_pixel_groups
from eiesim.costs.protocol import CHIP_CYCLES, PE_CYCLES, ComponentCost, ComponentCosts
from eiesim.costs.scaling import area_factor, energy_factor
from eiesim.errors import CostModelError

#: Callable giving one SRAM macro estimate: (size_bytes, width_bits, tech_nm) -> SramEstimate.
SramSource = Callable[[int, int, int], SramEstimate]

MEM, CLK, REG, COMB, FILLER = "memory", "clock network", "register", "combinational", "filler"

# -- physical constants of the first guess (45 nm) -------------------------------------------
#: Area of one NAND2 gate equivalent (um^2): NanGate FreePDK45 Open Cell Library, NAND2_X1.
GE_AREA_UM2 = 0.798
#: Area of one flip-flop (um^2): NanGate FreePDK45, DFF_X1.
FLOP_AREA_UM2 = 4.522
#: One 2:1 multiplexer in GE: NanGate FreePDK45 MUX2_X1 (1.862 um^2) / NAND2_X1.
MUX2_GE = 1.862 / GE_AREA_UM2
#: One full adder (one adder bit) in GE: NanGate FreePDK45 FA_X1 (4.256 um^2) / NAND2_X1.
FA_GE = 4.256 / GE_AREA_UM2
#: One AND2 in GE (array-multiplier partial product): NanGate FreePDK45 AND2_X1 (1.064 um^2) / NAND2_X1.
AND2_GE = 1.064 / GE_AREA_UM2
#: One flip-flop in GE (area ratio DFF_X1 / NAND2_X1).
FLOP_GE = FLOP_AREA_UM2 / GE_AREA_UM2
#: 32-bit integer add energy at 45 nm (pJ): Horowitz, ISSCC 2014, as quoted by EIE (Table I).
HOROWITZ_ADD32_PJ = 0.1
#: 32-bit integer multiply energy at 45 nm (pJ): Horowitz, ISSCC 2014, as quoted by EIE.
HOROWITZ_MULT32_PJ = 3.1
#: A 16-bit fixed-point multiply costs 5x less than a 32-bit one (EIE Sec. II).
MULT16_REDUCTION = 5.0
#: Energy per GE per operation (pJ): a 32-bit ripple adder is 32 FA_X1; 0.1 pJ spread over its GE.
E_PER_GE_PJ = HOROWITZ_ADD32_PJ / (32 * FA_GE)
#: Data-side energy of writing one flip-flop bit (pJ): FLOP_GE x E_PER_GE_PJ (clock excluded).
E_FLOP_BIT_PJ = FLOP_GE * E_PER_GE_PJ
#: Switched clock load per flip-flop per cycle, in GE of E_PER_GE_PJ (engineering estimate: clock pin
#: plus local clock wire, both edges). Only its weight relative to other logic matters: calibrated.
CLOCK_GE_PER_FLOP = 2.0
#: Clock-tree buffer area per flip-flop (um^2): one NanGate45 CLKBUF_X1-size cell (0.798 um^2) per
#: 4 flip-flops (engineering estimate; calibrated to Table II's clock-network area).
CLOCK_AREA_PER_FLOP_UM2 = 0.798 / 4
#: Bits of the column index carried with each activation in the FIFO (assumption: 16-bit index,
#: enough for EIE's longest input vectors).
FIFO_INDEX_BITS = 16
#: CCU: not characterized in the paper. Assumption: the size and power of one LNZD unit
#: (mode FSM, counters, broadcast driver), clocked every chip cycle.
CCU_AREA_UM2 = pub.LNZD_UNIT_AREA_UM2
CCU_POWER_MW_AT_800MHZ = pub.LNZD_UNIT_POWER_MW
#: Clock of the published design (MHz): the frequency Table II's powers refer to.
REFERENCE_CLOCK_MHZ = 800.0
#: Biproportional fit: iterations and tolerance (relative change of the factors).
IPF_MAX_ITER = 500
IPF_TOL = 1e-12


def lnzd_units(num_pes: int) -> int:
    """LNZD units of the quadtree over ``num_pes`` PEs: ceil(n/4) + ceil(n/16) + ... down to 1 (21 for 64)."""
    units, level = 0, num_pes
    while True:
        level = math.ceil(level / 4)
        units += level
        if level <= 1:
            return units


def group_lnzd_units(num_pes: int, groups: int) -> int:
    """LNZD units of a chip of ``num_pes`` PEs built for ``groups`` pixel groups (an assumption).

    max(lnzd_units(N), G x lnzd_units(N / G)): where the groups align with the quadtree
    (N / G = 4, 16, 64, ...: a subtree of it), its subtrees are the group finders and the tree is
    all there is; otherwise each group has a tree of its own, and these are taken to serve
    one-group layers too (the few units that would join their roots are not counted).
    """
    return max(lnzd_units(num_pes), groups * lnzd_units(num_pes // groups))


def _log2(n: int) -> int:
    return max(1, math.ceil(math.log2(max(n, 2))))


# -- first guess ---------------------------------------------------------------------------

@dataclass
class _Part:
    """Builder of one PE component's first guess (45 nm)."""

    name: str
    module: str
    flops: float = 0.0
    comb_ge: float = 0.0
    memory_area_um2: float = 0.0
    memory_leak_mw: float = 0.0
    energy: dict[str, dict[str, float]] | None = None

    def add(self, action: str, kind: str, pj: float) -> None:
        if self.energy is None:
            self.energy = {}
        slot = self.energy.setdefault(action, {})
        slot[kind] = slot.get(kind, 0.0) + pj


#: Address bits of the element-wise unit's sigmoid / tanh table (65 entries: 7 bits).
ELEMENTWISE_TABLE_BITS = 7


def _sized(value: int | str, key: str) -> int:
    """A size the simulation has resolved: an ``auto`` left unresolved cannot be priced."""
    if isinstance(value, str):
        raise CostModelError(f"{key} is still {value!r}: a run sizes it before pricing (price result.arch)")
    return value


def _pe_parts(arch: ArchConfig, sram: SramSource) -> tuple[list[_Part], list[str]]:
    """First-guess PE components at 45 nm (areas um^2, energies pJ) and SRAM-grid warnings."""
    d = arch.datapath_bits
    p = _sized(arch.ptr_sram.pointer_bits, "ptr_sram.pointer_bits")
    ptr_bytes = _sized(arch.ptr_sram.size_bytes, "ptr_sram.size_bytes")
    spmat_bytes = _sized(arch.spmat_sram.size_bytes, "spmat_sram.size_bytes")
    r = arch.act_regs_per_pe
    w = arch.spmat_sram.width_bits
    epw = arch.entries_per_word
    warnings: list[str] = []

    def mem(size: int, width: int, what: str) -> SramEstimate:
        est = sram(int(size), int(width), 45)
        if est.extrapolated:
            warnings.append(f"{what}: {size} B x {width} bit is outside the CACTI grid (1-512 KB, 16-512 bit); "
                            f"extrapolated with clamped log-log slope")
        return est

    parts: list[_Part] = []

    # Act_queue: the activation FIFO (value + column index per entry).
    fifo = _Part("act_fifo", "Act_queue")
    entry = d + FIFO_INDEX_BITS
    fifo.flops = arch.fifo_depth * entry
    fifo.comb_ge = (arch.fifo_depth - 1) * entry * MUX2_GE + 2 * _log2(arch.fifo_depth) * FA_GE
    fifo.add("fifo_pushes", REG, entry * E_FLOP_BIT_PJ)
    fifo.add("fifo_pushes", COMB, _log2(arch.fifo_depth) * FA_GE * E_PER_GE_PJ)
    fifo.add("fifo_pops", COMB, (_log2(arch.fifo_depth) * entry * MUX2_GE + _log2(arch.fifo_depth) * FA_GE)
             * E_PER_GE_PJ)
    parts.append(fifo)

    # PtrRead: pointer SRAM banks (one access per bank per pointer read) and the pointer logic.
    banks = arch.ptr_sram.banks
    bank = mem(ptr_bytes // banks, p, "ptr_sram bank")
    ptr_sram = _Part("ptr_sram", "PtrRead", memory_area_um2=banks * bank.area_um2, memory_leak_mw=banks * bank.leak_mw)
    ptr_sram.add("ptr_reads", MEM, banks * bank.read_pj)
    parts.append(ptr_sram)
    ptr_logic = _Part("ptr_read_logic", "PtrRead")
    ptr_logic.flops = 2 * p
    ptr_logic.comb_ge = p * FA_GE + banks * p * MUX2_GE
    ptr_logic.add("ptr_reads", REG, 2 * p * E_FLOP_BIT_PJ)
    ptr_logic.add("ptr_reads", COMB, (p * FA_GE + 2 * p * MUX2_GE) * E_PER_GE_PJ)
    parts.append(ptr_logic)

    # SpmatRead: sparse-matrix SRAM, word buffer, entry select and address counter.
    sp = mem(spmat_bytes, w, "spmat_sram")
    spmat = _Part("spmat_sram", "SpmatRead", memory_area_um2=sp.area_um2, memory_leak_mw=sp.leak_mw)
    spmat.add("spmat_word_reads", MEM, sp.read_pj)
    parts.append(spmat)
    sp_logic = _Part("spmat_read_logic", "SpmatRead")
    sp_logic.flops = w + 2 * p
    sp_logic.comb_ge = (epw - 1) * arch.entry_bits * MUX2_GE + p * FA_GE
    sp_logic.add("spmat_word_reads", REG, w * E_FLOP_BIT_PJ)
    sp_logic.add("macs", REG, p * E_FLOP_BIT_PJ)
    sp_logic.add("macs", COMB, (_log2(epw) * arch.entry_bits * MUX2_GE + p * FA_GE) * E_PER_GE_PJ)
    parts.append(sp_logic)

    # ArithmUnit: codebook, multiplier, adders, bypass, pipeline registers.
    cb_entries = 1 << arch.codebook_bits
    codebook = _Part("codebook", "ArithmUnit")
    codebook.flops = cb_entries * d
    codebook.comb_ge = (cb_entries - 1) * d * MUX2_GE
    codebook.add("codebook_lookups", COMB, arch.codebook_bits * d * MUX2_GE * E_PER_GE_PJ)
    codebook.add("elementwise_lookups", COMB, 2 * ELEMENTWISE_TABLE_BITS * d * MUX2_GE * E_PER_GE_PJ)
    # A sigmoid / tanh table read (docs/cost-model.md, "Write-back work"): the read mux of a 256-entry
    # register table, the codebook's formula with 8 index bits; booked here, its area is not in the chip's.
    codebook.add("activation_lut_reads", COMB, 8 * d * MUX2_GE * E_PER_GE_PJ)
    parts.append(codebook)
    mult = _Part("multiplier", "ArithmUnit")
    mult.comb_ge = d * d * (AND2_GE + FA_GE)
    mult.add("macs", COMB, HOROWITZ_MULT32_PJ / MULT16_REDUCTION * (d / 16) ** 2)
    # Recurrent layers' element-wise unit (docs/timing-model.md section 8): its multiplies cost the
    # datapath multiplier's, its sigmoid / tanh table reads two entries of a 65-entry table (a mux tree
    # like the codebook's). Its area is not added: the published design has no such unit.
    mult.add("elementwise_mults", COMB, HOROWITZ_MULT32_PJ / MULT16_REDUCTION * (d / 16) ** 2)
    mult.add("activation_mults", COMB, HOROWITZ_MULT32_PJ / MULT16_REDUCTION * (d / 16) ** 2)  # idle when storing
    parts.append(mult)
    addr_bits = _log2(r)
    adder = _Part("adder", "ArithmUnit")
    adder.comb_ge = (d + addr_bits) * FA_GE
    adder.add("macs", COMB, (d + addr_bits) * FA_GE * E_PER_GE_PJ)
    # Winograd transforms (docs/cost-model.md): one add of the same adder's width each; none at the
    # reference activity, so the calibration is unchanged. Their adders' area is not modelled.
    adder.add("transform_adds", COMB, (d + addr_bits) * FA_GE * E_PER_GE_PJ)
    # A residual's skip operand is added by this adder in the store phase, when it is otherwise idle
    # (docs/cost-model.md, "Write-back work"): one add of the same width, no extra area.
    adder.add("residual_adds", COMB, (d + addr_bits) * FA_GE * E_PER_GE_PJ)
    adder.add("activation_compares", COMB, (d + addr_bits) * FA_GE * E_PER_GE_PJ)  # a compare is a subtraction
    parts.append(adder)
    bypass = _Part("bypass", "ArithmUnit")
    bypass.comb_ge = addr_bits * 2 + d * MUX2_GE
    bypass.add("macs", COMB, (addr_bits * 2 + d * MUX2_GE) * E_PER_GE_PJ)
    parts.append(bypass)
    pipe = _Part("pipeline_regs", "ArithmUnit")
    pipe.flops = arch.timing.pipeline_depth * (2 * d + addr_bits)
    pipe.add("macs", REG, pipe.flops * E_FLOP_BIT_PJ)
    parts.append(pipe)

    # ActRW: source/destination register files and the activation SRAM.
    regs = _Part("act_regfiles", "ActRW")
    regs.flops = 2 * r * d
    regs.comb_ge = 2 * ((r - 1) * d * MUX2_GE + r * 2)
    read_pj = _log2(r) * d * MUX2_GE * E_PER_GE_PJ
    write_reg_pj, write_comb_pj = d * E_FLOP_BIT_PJ, _log2(r) * 2 * E_PER_GE_PJ
    for action in ("src_reg_reads", "dst_reg_reads"):
        regs.add(action, COMB, read_pj)
    for action in ("src_reg_writes", "dst_reg_writes"):
        regs.add(action, REG, write_reg_pj)
        regs.add(action, COMB, write_comb_pj)
    parts.append(regs)
    if arch.act_sram.size_bytes > 0:
        act = mem(arch.act_sram.size_bytes, d, "act_sram")
        act_sram = _Part("act_sram", "ActRW", memory_area_um2=act.area_um2, memory_leak_mw=act.leak_mw)
        act_sram.add("act_sram_reads", MEM, act.read_pj)
        act_sram.add("act_sram_writes", MEM, act.write_pj)
        parts.append(act_sram)
    return parts, warnings


def _first_guess(arch: ArchConfig, sram: SramSource) -> tuple[dict[str, ComponentCost], list[str]]:
    """Uncalibrated PE components at 45 nm, including the clock network (split by flip-flops)."""
    parts, warnings = _pe_parts(arch, sram)
    out: dict[str, ComponentCost] = {}
    flops_by_module: dict[str, float] = {}
    for part in parts:
        flops_by_module[part.module] = flops_by_module.get(part.module, 0.0) + part.flops
        area = {MEM: part.memory_area_um2, REG: part.flops * FLOP_AREA_UM2, COMB: part.comb_ge * GE_AREA_UM2}
        out[part.name] = ComponentCost(
            name=part.name, scope="pe", instances=arch.num_pes, module_shares={part.module: 1.0},
            area_um2_by_type={k: v for k, v in area.items() if v > 0},
            energy_pj={a: dict(e) for a, e in (part.energy or {}).items()},
            leakage_mw_by_type={MEM: part.memory_leak_mw} if part.memory_leak_mw > 0 else {},
        )
    total_flops = sum(flops_by_module.values())
    out["clock_network"] = ComponentCost(
        name="clock_network", scope="pe", instances=arch.num_pes,
        module_shares={m: f / total_flops for m, f in flops_by_module.items() if f > 0},
        area_um2_by_type={CLK: total_flops * CLOCK_AREA_PER_FLOP_UM2},
        energy_pj={PE_CYCLES: {CLK: total_flops * CLOCK_GE_PER_FLOP * E_PER_GE_PJ}},
        notes="clock tree of the PE; split over modules in proportion to their flip-flops",
    )
    return out, warnings


# -- calibration ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Calibration:
    """Factors fitted so the published design reproduces Table II (see module docstring)."""

    power_module: Mapping[str, float]
    power_type: Mapping[str, float]
    area_module: Mapping[str, float]
    area_type: Mapping[str, float]
    #: Filler-cell area as a fraction of the placed (non-filler) PE area.
    filler_fraction: float
    #: Per-unit LNZD energy per detected non-zero (pJ), from the paper's 0.023 mW at Alex-7 activity.
    lnzd_unit_pj_per_op: float


def biproportional_fit(matrix: Mapping[tuple[str, str], float], row_targets: Mapping[str, float],
                       col_targets: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """Row and column factors r, c with sum_j m_ij r_i c_j = row_i and sum_i m_ij r_i c_j = col_j (IPF).

    Row targets are rescaled to the column total first (Table II's module powers add up to
    9.158 mW, its type powers to 9.157 mW).
    """
    scale = sum(col_targets.values()) / sum(row_targets.values())
    rows = {k: v * scale for k, v in row_targets.items()}
    r = {k: 1.0 for k in rows}
    c = {k: 1.0 for k in col_targets}
    for _ in range(IPF_MAX_ITER):
        old = dict(r), dict(c)
        for i in rows:
            s = sum(m * c[j] for (ii, j), m in matrix.items() if ii == i and j in c)
            r[i] = rows[i] / s if s > 0 else 1.0
        for j in col_targets:
            s = sum(m * r[i] for (i, jj), m in matrix.items() if jj == j and i in r)
            c[j] = col_targets[j] / s if s > 0 else 1.0
        change = max([abs(r[k] / old[0][k] - 1) for k in r] + [abs(c[k] / old[1][k] - 1) for k in c])
        if change < IPF_TOL:
            break
    # r and c are defined up to r*k, c/k: normalise so the row factors' geometric mean is 1.
    g = math.exp(sum(math.log(v) for v in r.values()) / len(r))
    return {k: v / g for k, v in r.items()}, {k: v * g for k, v in c.items()}


@functools.lru_cache(maxsize=8)
def fit_calibration(sram: SramSource = sram_estimate) -> Calibration:
    """Fit the Table II calibration on the published 64-PE design with the given SRAM source."""
    arch = paper_arch()  # the paper's design (4-bit codebook indices), whose Table II the fit matches
    first, _ = _first_guess(arch, sram)
    power = pe_power_matrix_mw(first, pub.ALEX7_REFERENCE_RATES, REFERENCE_CLOCK_MHZ)
    pm, pt = biproportional_fit(power, pub.TABLE2_POWER_BY_MODULE_MW, pub.TABLE2_POWER_BY_TYPE_MW)
    area = pe_area_matrix_um2(first)
    types = {k: v for k, v in pub.TABLE2_AREA_BY_TYPE_UM2.items() if k != FILLER}
    am, at = biproportional_fit(area, pub.TABLE2_AREA_BY_MODULE_UM2, types)
    filler_fraction = pub.TABLE2_AREA_BY_TYPE_UM2[FILLER] / sum(pub.TABLE2_AREA_BY_MODULE_UM2.values())
    lnzd_ops_per_s = pub.ALEX7_REFERENCE_RATES["lnzd_ops"] * arch.num_pes * REFERENCE_CLOCK_MHZ * 1e6
    lnzd_pj = pub.LNZD_UNIT_POWER_MW * 1e-3 / lnzd_ops_per_s * 1e12
    return Calibration(pm, pt, am, at, filler_fraction, lnzd_pj)


def _calibrate(comp: ComponentCost, cal: Calibration, fa: float, fe: float) -> ComponentCost:
    """Apply module x type factors and technology scaling (fa area, fe energy) to one PE component."""
    def pfac(kind: str) -> float:
        return cal.power_type.get(kind, 1.0) * sum(s * cal.power_module.get(m, 1.0) for m, s in comp.module_shares.items())

    def afac(kind: str) -> float:
        return cal.area_type.get(kind, 1.0) * sum(s * cal.area_module.get(m, 1.0) for m, s in comp.module_shares.items())

    # SRAM figures already come at the target node from the SRAM source, so only logic is scaled here.
    def node(kind: str, f: float) -> float:
        return 1.0 if kind == MEM else f

    shares = comp.module_shares
    power_w = {m: sh * cal.power_module.get(m, 1.0) for m, sh in shares.items()}
    area_w = {m: sh * cal.area_module.get(m, 1.0) for m, sh in shares.items()}
    return replace(
        comp,
        area_um2_by_type={k: v * afac(k) * node(k, fa) for k, v in comp.area_um2_by_type.items()},
        energy_pj={a: {k: v * pfac(k) * node(k, fe) for k, v in e.items()} for a, e in comp.energy_pj.items()},
        leakage_mw_by_type={k: v * pfac(k) * node(k, fe) for k, v in comp.leakage_mw_by_type.items()},
        # after calibration a multi-module component's energy and area split by module differently
        module_shares={m: v / sum(power_w.values()) for m, v in power_w.items()},
        area_module_shares={m: v / sum(area_w.values()) for m, v in area_w.items()},
    )


def provenance(cal: Calibration, sram_source: str) -> str:
    """What the model's numbers rest on, with the fitted factors that scale the SRAMs too."""
    def sram(module: str) -> tuple[float, float]:
        return (cal.power_module[module] * cal.power_type["memory"], cal.area_module[module] * cal.area_type["memory"])

    spmat, ptr = sram("SpmatRead"), sram("PtrRead")
    return (f"SRAM energies and areas {sram_source} and logic from gate-count estimates, both "
            "multiplied by module x type factors fitted to Table II of Han et al., ISCA 2016 at Alex-7 activity "
            f"(Spmat SRAM: {spmat[0]:.3f}x CACTI's read energy, {spmat[1]:.3f}x its area; pointer SRAM: "
            f"{ptr[0]:.3f}x, {ptr[1]:.3f}x); at the published design Table II is reproduced by construction "
            "(docs/cost-model.md)")


#: ``DefaultCostModel.component_costs`` with the CACTI grid, by architecture content (``content_key``).
_PRICED: dict[tuple, tuple[Calibration, ComponentCosts]] = {}
#: Largest number of priced architectures kept (the whole memo is dropped when it is full).
_PRICED_MAX = 256


class DefaultCostModel:
    """CACTI-grid SRAMs + gate-level logic, calibrated to EIE Table II (docs/cost-model.md)."""

    name = "default"
    #: Where the SRAM estimates come from, for the report's provenance line.
    sram_source = "interpolated from a CACTI grid"

    def __init__(self, sram: SramSource = sram_estimate) -> None:
        self._sram = sram

    def calibration(self) -> Calibration:
        """The Table II calibration factors this model uses."""
        return fit_calibration(self._sram)

    def component_costs(self, arch: ArchConfig) -> ComponentCosts:
        """Priced components of ``arch`` at its technology node.

        With the package's own SRAM source (a pure function of size, width and node) the pricing
        is a pure function of the architecture's values and the calibration, so it is kept per
        architecture content (``content_key``) with the calibration it used (``fit_calibration``'s
        cached value: clearing that cache, as a study of changed model constants does, prices
        afresh) and a repeated run or sweep point on the same chip prices it once; the value is a
        frozen dataclass shared read-only. Another SRAM source is priced on every call.
        """
        if self._sram is not sram_estimate:
            return self._component_costs(arch)
        cal = self.calibration()
        key = content_key(arch)
        found = _PRICED.get(key)
        if found is None or found[0] is not cal:  # the stored value keeps its calibration alive: ids stay unique
            if len(_PRICED) >= _PRICED_MAX:
                _PRICED.clear()
            found = _PRICED[key] = (cal, self._component_costs(arch))
        return found[1]

    def _component_costs(self, arch: ArchConfig) -> ComponentCosts:
        cal = self.calibration()
        node = arch.tech_nm
        fa, fe = area_factor(45, node), energy_factor(45, node)

        def sram_at_node(size: int, width: int, _tech: int) -> SramEstimate:
            return self._sram(size, width, node)

        first, warnings = _first_guess(arch, sram_at_node)
        comps = {name: _calibrate(c, cal, fa, fe) for name, c in first.items()}
        placed = sum(c.area_um2 for c in comps.values())
        comps["filler"] = ComponentCost(
            name="filler", scope="pe", instances=arch.num_pes, module_shares={FILLER: 1.0},
            area_um2_by_type={FILLER: placed * cal.filler_fraction},
            notes="filler cells: Table II's filler share of the placed PE area")
        groups = hardware_pixel_groups(arch)  # evaluate() passes the run's; see eiesim.costs.groups
        comps.update(_finder_and_control(arch.num_pes, groups, cal.lnzd_unit_pj_per_op, fa, fe))
        comps["dram"] = ComponentCost(
            name="dram", scope="offchip", instances=1, module_shares={"DRAM": 1.0},
            energy_pj={"dram_bytes_read": {"dram": 8 * pub.DRAM_PJ_PER_BIT},
                       "dram_bytes_written": {"dram": 8 * pub.DRAM_PJ_PER_BIT}},
            notes="20 pJ/bit: 640 pJ per 32-bit DRAM read (Horowitz, quoted by EIE)")
        origin = provenance(cal, self.sram_source) + _groups_provenance(arch.num_pes, groups)
        return ComponentCosts(self.name, comps, tuple(warnings), origin)


def _group_counts(num_pes: int, groups: int) -> list[int]:
    """The G > 1 a chip built for ``groups`` pixel groups may run a layer with: the divisors of N up to ``groups``."""
    return [g for g in range(2, groups + 1) if num_pes % g == 0]


def _finder_and_control(num_pes: int, groups: int, lnzd_unit_pj: float, fa: float,
                        fe: float) -> dict[str, ComponentCost]:
    """The chip-level LNZD tree and CCU of a chip built for ``groups`` pixel groups (1: the published chip).

    Area: ``group_lnzd_units`` LNZD units and one CCU per group. Energy in a layer that runs
    in G groups (``group_energy_pj``): a broadcast passes the lnzd_units(N / G) units of its
    group's tree, and G CCUs are clocked every cycle (the others, if any, are clock-gated).
    """
    units = lnzd_units(num_pes)
    ccu_pj = CCU_POWER_MW_AT_800MHZ / REFERENCE_CLOCK_MHZ * 1e3 * fe
    lnzd_notes = f"{units}-unit leading-non-zero-detection quadtree (EIE: 0.023 mW, 189 um^2 per unit)"
    ccu_notes = "central control unit: assumed one LNZD unit's area and power (not published)"
    if groups > 1:
        lnzd_notes = (f"{group_lnzd_units(num_pes, groups)} LNZD units: max({units}, {groups} x "
                      f"{lnzd_units(num_pes // groups)}) for up to {groups} pixel groups; a broadcast in a group of "
                      f"N' PEs passes lnzd_units(N') units (EIE: 0.023 mW, 189 um^2 per unit)")
        ccu_notes = (f"{groups} central control units, one per pixel group, G of them clocked in a layer of G groups; "
                     "each assumed one LNZD unit's area and power (not published)")
    lnzd = ComponentCost(
        name="lnzd", scope="chip", instances=group_lnzd_units(num_pes, groups), module_shares={"LNZD": 1.0},
        area_um2_by_type={"logic": pub.LNZD_UNIT_AREA_UM2 * fa},
        energy_pj={"lnzd_ops": {"logic": units * lnzd_unit_pj * fe}},
        group_energy_pj={g: {"lnzd_ops": {"logic": lnzd_units(num_pes // g) * lnzd_unit_pj * fe}}
                         for g in _group_counts(num_pes, groups)},
        notes=lnzd_notes)
    ccu = ComponentCost(
        name="ccu", scope="chip", instances=groups, module_shares={"CCU": 1.0},
        area_um2_by_type={"logic": CCU_AREA_UM2 * fa},
        energy_pj={CHIP_CYCLES: {"logic": ccu_pj}},
        group_energy_pj={g: {CHIP_CYCLES: {"logic": g * ccu_pj}} for g in _group_counts(num_pes, groups)},
        notes=ccu_notes)
    return {"lnzd": lnzd, "ccu": ccu}


def _groups_provenance(num_pes: int, groups: int) -> str:
    """The provenance sentence on pixel groups ('' for the one-group chip, whose reports it leaves as they were)."""
    if groups == 1:
        return ""
    return (f"; pixel groups: the chip carries hardware for {groups} groups, {groups} CCUs and "
            f"max(lnzd_units({num_pes}), {groups} x lnzd_units({num_pes // groups})) = "
            f"{group_lnzd_units(num_pes, groups)} LNZD units; a layer in G groups is charged lnzd_units({num_pes}/G) "
            "LNZD units per broadcast and G CCUs per cycle")
