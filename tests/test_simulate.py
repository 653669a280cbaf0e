"""``simulate``: totals, I/O, storage residency and errors, inputs, report body."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _support import DOC_INPUT, doc_example_layer

from eiesim.config.arch import load_arch
from eiesim.errors import ArchError, UsageError
from eiesim.network.workload import Workload, layer_from_dense
from eiesim.render.run_files import layers_csv, report_dict
from eiesim.run.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"
REAL_MODEL = Path(__file__).resolve().parents[2] / "shared" / "models" / "squeezenet_dc" / "compressed_SqueezeNet.net"


def doc_workload() -> Workload:
    layer = doc_example_layer(relu=False)
    return Workload("doc", "docs/timing-model.md", (6,), None, [layer], np.array(DOC_INPUT, np.float32))


def small_conv_workload(bits: int = 4, seed: int = 3) -> Workload:
    rng = np.random.default_rng(seed)
    cb = np.linspace(0.1, 1.0, 2**bits).astype(np.float32)
    codes = rng.integers(0, len(cb), size=(6, 3, 3, 3))
    w = np.where(rng.random(codes.shape) < 0.4, cb[codes], 0).astype(np.float32)
    layer = layer_from_dense("c", w, codes_dense=codes, codebook=cb, padding=(1, 1))
    x = rng.integers(0, 3, size=(3, 5, 5)).astype(np.float32)
    return Workload("conv", "test", (3, 5, 5), None, [layer], x)


def test_doc_example_whole_layer_cycles():
    result = simulate(load_arch(TINY), doc_workload())
    s = result.layers[0]
    # Compute 17 (the worked example) + I/O: input 6 x 2 B read, output 16 x 2 B written = 44 B at 16 B/cycle.
    assert (s.compute_cycles, s.io_cycles, s.load_cycles, s.store_cycles, s.cycles) == (17, 3, 0, 0, 20)
    assert result.cycles == 20 and result.time_us == pytest.approx(20 / 800)
    assert result.frames_per_s == pytest.approx(800e6 / 20)
    assert s.load_balance_efficiency == pytest.approx(21 / (4 * 17))
    assert s.time_efficiency == pytest.approx((21 / 4) / 20)
    assert s.actions["spmat_word_reads"] == 9 and s.actions["fifo_pushes"] == 20
    assert s.actions["dram_bytes_read"] == 12 and s.actions["dram_bytes_written"] == 32
    assert result.check["functional"] == "pass"
    assert result.outputs["doc"].shape == (16,)


def test_report_body_is_json_and_complete():
    result = simulate(load_arch(TINY), small_conv_workload())
    body = json.loads(json.dumps(report_dict(result)))
    for key in ("eiesim_version", "arch", "workload", "totals", "layers", "check", "storage"):
        assert key in body
    for key in ("cycles", "time_us", "frames_per_s", "macs"):
        assert key in body["totals"]
    layer = body["layers"][0]
    for key in ("name", "cycles", "time_us", "nonzero_activations", "entries_processed", "padding_entries",
                "load_balance_efficiency", "stall_breakdown", "actions", "pe_cycles"):
        assert key in layer
    assert len(layer["pe_cycles"]["busy"]) == 4
    assert sum(layer["stall_breakdown"].values()) == 4 * layer["compute_cycles"]
    assert body["totals"]["cycles"] == sum(lay["cycles"] for lay in body["layers"])
    assert body["check"]["functional"] == "pass"
    csv_text = layers_csv(result)
    assert csv_text.splitlines()[0].startswith("name,kind,rows") and len(csv_text.splitlines()) == 2


def test_conv_phases_follow_the_contract():
    s = simulate(load_arch(TINY), small_conv_workload()).layers[0]
    # 25 pixels, V = 27 > cap = 16: 2 batches (16 + 11) loaded every round: 4 + 3 cycles per pixel.
    assert (s.pixels, s.input_batches, s.row_blocks, s.rounds) == (25, 2, 1, 50)
    assert s.load_cycles == 25 * 7 and s.actions["act_sram_reads"] == 25 * 27
    # Store: 6 rows per pixel, 2 cycles on 4 PEs.
    assert s.store_cycles == 25 * 2 and s.actions["act_sram_writes"] == 25 * 6


def test_codebook_wider_than_the_architecture_is_an_error():
    with pytest.raises(ArchError, match=r"eie-64pe-8bit.yaml.*compress --bits 4"):
        simulate(load_arch(TINY), small_conv_workload(bits=5))


def test_weights_that_do_not_fit_error_or_stream():
    wl = small_conv_workload()
    arch = load_arch(TINY, ["spmat_sram.size_bytes=64", "dram.sram_overflow=error"])
    wl.layers[0] = layer_from_dense("big", np.ones((8, 3, 5, 5), np.float32), codebook=np.array([1.0]), padding=(2, 2))
    with pytest.raises(ArchError, match=r"layer 'big', PE \d needs \d+ bytes of Spmat SRAM.*has 64.*auto"):
        simulate(arch, wl)
    streamed = simulate(load_arch(TINY, ["spmat_sram.size_bytes=64"]), wl)
    resident = simulate(load_arch(TINY), wl)
    assert not streamed.storage.resident and resident.storage.resident
    weight_bytes = streamed.layers[0].storage["streamed_bytes"]
    assert weight_bytes > 0
    assert (streamed.layers[0].actions["dram_bytes_read"] - resident.layers[0].actions["dram_bytes_read"]
            == weight_bytes)
    assert streamed.cycles > resident.cycles


def test_auto_sram_size_resolves_to_a_legal_size():
    result = simulate(load_arch(TINY, ["spmat_sram.size_bytes=auto", "ptr_sram.size_bytes=auto"]),
                      small_conv_workload())
    assert result.arch.spmat_sram.size_bytes == 1024 and result.arch.ptr_sram.size_bytes == 2048
    assert result.to_dict()["arch"]["spmat_sram"]["size_bytes"] == 1024
    assert result.storage.resident


def test_input_array_and_bad_engine():
    wl = small_conv_workload()
    x = np.zeros((3, 5, 5), np.float32)
    result = simulate(load_arch(TINY), wl, input=x)
    # Zero activations are not free for the register-row finder: 25 pixels x 2 input batches (16 + 11 of the
    # 27 columns; cap = 16), each round max(rows + 1, L + 1 + P + W = 9) = 9 cycles (4 and 3 register rows).
    assert result.layers[0].nonzero_activations == 0 and result.layers[0].compute_cycles == 25 * 2 * 9
    ideal = simulate(load_arch(TINY, ["ccu.nonzero_finder=skip_zeros", "ccu.bias=output_path"]), wl, input=x)
    assert ideal.layers[0].compute_cycles == 0
    with pytest.raises(UsageError):
        simulate(load_arch(TINY), wl, engine="cycle")


def test_progress_callback_sees_every_layer():
    seen = []
    simulate(load_arch(TINY), small_conv_workload(), progress=lambda d, t, n: seen.append((d, t, n)))
    assert seen == [(1, 1, "c")]


@pytest.mark.skipif(not REAL_MODEL.is_file(), reason="real Deep-Compression SqueezeNet not available")
def test_real_squeezenet_on_chelsea():
    from eiesim.importers.caffe.deep_compression import import_dc

    wl = import_dc(REAL_MODEL)
    result = simulate(load_arch(ROOT / "arch_configs" / "eie-64pe-8bit.yaml"), wl, input="chelsea")
    assert result.check["functional"] == "pass"
    assert result.check["top1"] == 285
    assert len(result.layers) == 26 and result.storage.resident
    assert sum(s.actions["real_macs"] for s in result.layers) > 1e8


@pytest.mark.parametrize("entries,bits", [(255, 8), (256, 9), (1000, 10)])
def test_pointers_must_address_every_entry_of_a_pe(entries, bits):
    """A PE's pointers run 0 .. its entries in the layer (docs/timing-model.md section 1): 255 fit 8 bits,
    256 need 9. Too narrow a configured width is widened, with a warning naming layer, PE, entries, bits."""
    w = np.ones((entries, 1), np.float32)  # one column, every row on the single PE, no padding
    layer = layer_from_dense("tall", w, codebook=np.array([1.0]), kind="fc", relu=False)
    wl = Workload("tall", "test", (1,), None, [layer], np.ones(1, np.float32))
    over = ["num_pes=1", f"act_regs_per_pe={entries}", "ccu.bias=output_path"]
    auto = simulate(load_arch(None, over + ["ptr_sram.pointer_bits=auto"]), wl)
    assert auto.arch.ptr_sram.pointer_bits == bits and auto.storage.pointer_bits_needed == bits
    assert auto.warnings == [] or all("pointer" not in w for w in auto.warnings)
    fixed = simulate(load_arch(None, over + ["ptr_sram.pointer_bits=8"]), wl)
    assert fixed.arch.ptr_sram.pointer_bits == bits
    widened = [w for w in fixed.warnings if "pointer" in w]
    if bits == 8:
        assert widened == []
    else:
        assert len(widened) == 1 and f"PE 0 holds {entries:,} of layer 'tall'" in widened[0]
        assert f"simulated with {bits}-bit pointers" in widened[0]
