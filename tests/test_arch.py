"""Architecture config: shipped YAMLs, strict validation, overrides."""

from pathlib import Path

import pytest

from eiesim.config.arch import ArchConfig, apply_overrides, describe_parameters, legal_sram_size, load_arch
from eiesim.errors import ArchError

CONFIGS = Path(__file__).resolve().parents[1] / "arch_configs"


def test_published_design_matches_paper():
    arch = load_arch(CONFIGS / "eie-64pe.yaml")
    # Han et al. 2016, Sec. V / Table II. The paper's FIFO depth 8 is the authors' simulator's
    # 8-slot ring buffer, which holds 7 (nzfetch.cpp: full when (write + 1) mod 8 == read).
    assert (arch.num_pes, arch.clock_mhz, arch.tech_nm, arch.fifo_depth) == (64, 800, 45, 7)
    # The authors' simulator's finder, bias column and latencies (docs/timing-model.md section 7).
    assert (arch.ccu.nonzero_finder, arch.ccu.bias) == ("register_row", "column")
    t = arch.timing
    assert (t.broadcast_latency_cycles, t.pipeline_depth, t.writeback_cycles, t.empty_column_cycles) == (2, 4, 2, 1)
    assert (arch.codebook_bits, arch.rel_index_bits) == (4, 4)
    assert arch.spmat_sram.size_bytes == 128 * 1024 and arch.spmat_sram.width_bits == 64
    assert arch.ptr_sram.size_bytes == 32 * 1024 and arch.ptr_sram.banks == 2
    assert arch.act_sram.size_bytes == 2048 and arch.act_regs_per_pe == 64
    assert arch.entries_per_word == 8  # "64-bit interface = 8 entries"
    assert arch.act_capacity == 4096  # "4K-long vectors across 64 PEs"
    assert arch.max_zero_run == 15


def test_8bit_config_packs_five_12bit_entries():
    arch = load_arch(CONFIGS / "eie-64pe-8bit.yaml")
    assert arch.entry_bits == 12 and arch.entries_per_word == 5


def test_every_shipped_config_loads():
    for path in CONFIGS.glob("*.yaml"):
        assert isinstance(load_arch(path), ArchConfig)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("num_pes: 0\n", "num_pes"),
        ("num_pe: 64\n", "unknown key 'num_pe'"),
        ("spmat_sram: {size_bytes: 1024, widht_bits: 64}\n", "valid keys here: size_bytes, width_bits"),
        ("tech_nm: 33\n", "tech_nm must be one of"),
        ("fifo_depth: eight\n", "fifo_depth"),
        ("- just\n- a list\n", "mapping"),
        ("num_pes: [1\n", "not valid YAML"),
        ("codebook_bits: 8\nspmat_sram: {width_bits: 8}\n", "must hold one entry"),
        ("cost_model: magic\n", "cost_model"),
        ("dram: {sram_overflow: maybe}\n", "sram_overflow"),
    ],
)
def test_bad_yaml_names_key(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ArchError) as info:
        load_arch(path)
    message = info.value.one_line()
    assert message.startswith(str(path)) and needle in message
    assert "\n" not in message


def test_yaml_tags_are_not_executed(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("num_pes: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ArchError):
        load_arch(path)


def test_overrides_dotted_and_typed():
    arch = load_arch(None, ["num_pes=16", "spmat_sram.width_bits=128", "timing.pipeline_depth=6", "dram.sram_overflow=stream"])
    assert arch.num_pes == 16 and arch.spmat_sram.width_bits == 128
    assert arch.timing.pipeline_depth == 6 and arch.dram.sram_overflow == "stream"
    assert load_arch(None, ["spmat_sram.size_bytes=auto"]).spmat_sram.size_bytes == "auto"


@pytest.mark.parametrize("override, needle", [
    ("nope=1", "unknown key 'nope'"),
    ("spmat_sram.depth=3", "unknown key 'depth'"),
    ("num_pes", "expected KEY=VALUE"),
    ("num_pes=-4", "num_pes"),
    ("clock_mhz=nan", "clock_mhz"),
    ("clock_mhz=.inf", "clock_mhz"),
])
def test_bad_overrides(override, needle):
    with pytest.raises(ArchError, match=needle):
        load_arch(None, [override])


def test_overrides_do_not_mutate_input():
    data = {"spmat_sram": {"width_bits": 64}}
    apply_overrides(data, ["spmat_sram.width_bits=32"])
    assert data == {"spmat_sram": {"width_bits": 64}}


def test_legal_sram_size_is_power_of_two_and_fits():
    assert legal_sram_size(1, 64) == 1024
    assert legal_sram_size(1025, 64) == 2048
    assert legal_sram_size(131072, 64) == 131072
    assert legal_sram_size(131073, 64) == 262144
    assert legal_sram_size(100, 64, banks=2) == 2048


def test_every_parameter_is_documented_with_a_unit_or_choice():
    rows = describe_parameters()
    keys = {r["key"] for r in rows}
    assert {"num_pes", "clock_mhz", "tech_nm", "fifo_depth", "codebook_bits", "rel_index_bits", "datapath_bits",
            "spmat_sram.size_bytes", "spmat_sram.width_bits", "ptr_sram.size_bytes", "ptr_sram.banks",
            "ptr_sram.pointer_bits", "act_sram.size_bytes", "act_regs_per_pe", "timing.pipeline_depth",
            "timing.broadcast_latency_cycles", "dram.bandwidth_gb_per_s"} <= keys
    for row in rows:
        assert row["description"], row["key"]


def test_the_default_design_is_defined_once():
    """ArchConfig()'s defaults are the default architecture: eie-64pe-8bit.yaml holds exactly them, and
    load_arch(None), published_arch() and the file ``eiesim run`` loads are the same design."""
    from eiesim.config.defaults import published_arch
    from eiesim.run.simulate import default_paths

    assert load_arch(CONFIGS / "eie-64pe-8bit.yaml") == ArchConfig() == load_arch(None) == published_arch()
    assert load_arch(CONFIGS / "eie-64pe-8bit.yaml").to_dict() == ArchConfig().to_dict()
    assert load_arch(default_paths()[0]) == ArchConfig()


def test_the_paper_design_is_defined_once():
    """paper_arch() is the paper's design: eie-64pe.yaml holds exactly it (calibration uses the former, Table IV
    the latter, so they must not drift apart); it differs from the default only in its 4-bit codebook indices."""
    from eiesim.config.defaults import paper_arch

    assert load_arch(CONFIGS / "eie-64pe.yaml") == paper_arch()
    assert load_arch(CONFIGS / "eie-64pe.yaml").to_dict() == paper_arch().to_dict()
    differing = {k for k, v in paper_arch().to_dict().items() if ArchConfig().to_dict()[k] != v}
    assert differing == {"name", "codebook_bits"} and paper_arch().codebook_bits == 4
