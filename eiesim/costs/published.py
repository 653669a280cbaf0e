"""Published EIE numbers the default cost model is calibrated against and checked with.

Han et al., "EIE: Efficient Inference Engine on Compressed Deep Neural Network",
ISCA 2016, Table II (one PE of the 64-PE design, TSMC 45 nm, 800 MHz) and Sec. V.
These are the paper's numbers, kept as literals so tests compare the model with
them and not with values the model computed.
"""

from __future__ import annotations

from typing import Any

#: Module names of Table II, in the paper's order.
TABLE2_MODULES: tuple[str, ...] = ("Act_queue", "PtrRead", "SpmatRead", "ArithmUnit", "ActRW")
#: Type names of Table II (filler cells have area only).
TABLE2_TYPES: tuple[str, ...] = ("memory", "clock network", "register", "combinational")

#: Table II, per-PE power (mW) by module.
TABLE2_POWER_BY_MODULE_MW: dict[str, float] = {
    "Act_queue": 0.112, "PtrRead": 1.807, "SpmatRead": 4.955, "ArithmUnit": 1.162, "ActRW": 1.122}
#: Table II, per-PE power (mW) by type.
TABLE2_POWER_BY_TYPE_MW: dict[str, float] = {
    "memory": 5.416, "clock network": 1.874, "register": 1.026, "combinational": 0.841}
#: Table II, per-PE total power (mW).
TABLE2_POWER_TOTAL_MW = 9.157

#: Table II, per-PE area (um^2) by module.
TABLE2_AREA_BY_MODULE_UM2: dict[str, float] = {
    "Act_queue": 758.0, "PtrRead": 121_849.0, "SpmatRead": 469_412.0, "ArithmUnit": 3_110.0, "ActRW": 18_934.0}
#: Table II, per-PE area (um^2) by type, filler included.
TABLE2_AREA_BY_TYPE_UM2: dict[str, float] = {
    "memory": 594_786.0, "clock network": 866.0, "register": 9_465.0, "combinational": 8_946.0, "filler": 23_961.0}
#: Table II, per-PE total area (um^2).
TABLE2_AREA_TOTAL_UM2 = 638_024.0

#: Chip (64 PEs): area (mm^2) and power (W), Sec. V ("about 0.59 W"; 0.58 and 0.60 also appear).
CHIP_AREA_MM2 = 40.8
CHIP_POWER_W = 0.59

#: One LNZD unit (EIE Sec. IV): power (mW) and area (um^2).
LNZD_UNIT_POWER_MW = 0.023
LNZD_UNIT_AREA_UM2 = 189.0

#: DRAM access energy: 640 pJ per 32-bit DRAM read (Horowitz, quoted in EIE Sec. I / Table I) => 20 pJ/bit.
DRAM_PJ_PER_BIT = 640.0 / 32.0

#: Alex-7 (EIE Table III): 4096 -> 4096, 9 % weights, 35.3 % activations; Table IV actual time 12.2 us.
ALEX7: dict[str, Any] = {"name": "Alex-7", "n_in": 4096, "n_out": 4096, "weight_density": 0.09, "act_density": 0.353}
ALEX7_ACTUAL_TIME_US = 12.2

#: Alex-7 on the published design, computing phase only (the paper measured power in computing
#: mode): chip-total action counts and compute cycles from eiesim's fast engine on the synthetic
#: Alex-7 layer (eie_fc_layer("Alex-7", 4096, 4096, 0.09, 0.353, bits=4, seed=0)) with
#: arch_configs/eie-64pe.yaml. These are eiesim's numbers, not the paper's: stored so that the cost
#: model is calibrated without running a simulation, and held equal to what the engine produces
#: today by tests/test_costs_pricing.py (a timing change that moves them fails that test).
#: `eiesim reproduce eie-table2` re-runs the engine and prints the live values.
ALEX7_REFERENCE_COUNTS: dict[str, int] = {
    "lnzd_ops": 1447, "fifo_pushes": 92608, "fifo_pops": 92608, "ptr_reads": 92608, "src_reg_reads": 1446,
    "spmat_word_reads": 128207, "codebook_lookups": 635856, "macs": 635856, "real_macs": 532658,
    "dst_reg_reads": 635856, "dst_reg_writes": 635856, "act_sram_reads": 0, "act_sram_writes": 0,
    "src_reg_writes": 0, "dram_bytes_read": 0, "dram_bytes_written": 0,
}
ALEX7_REFERENCE_COMPUTE_CYCLES = 10294
ALEX7_REFERENCE_NUM_PES = 64

#: The activity at which the default model is calibrated to Table II's powers, per PE per cycle
#: (chip-total count / (num_pes x compute cycles)).
ALEX7_REFERENCE_RATES: dict[str, float] = {
    k: v / (ALEX7_REFERENCE_NUM_PES * ALEX7_REFERENCE_COMPUTE_CYCLES) for k, v in ALEX7_REFERENCE_COUNTS.items()}
