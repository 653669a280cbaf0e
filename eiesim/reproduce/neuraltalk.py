"""The rows behind ``eiesim reproduce neuraltalk``: NeuralTalk on the published chip against Table IV.

The EIE paper (Han et al., ISCA 2016, Table IV) times NeuralTalk's three layers as single
M x V products: NT-We 8.0 us, NT-Wd 13.9 us and NT-LSTM 7.5 us (actual). NT-LSTM's M x V is
one time step's gate product; a real step also runs the gates' non-linearities and the cell
update, and the next step cannot start before h_t is back in the source registers
(docs/timing-model.md section 8). This study runs, on arch_configs/eie-64pe.yaml:

* NT-We and NT-Wd as Table IV's fc layers (the rounds: load + compute + store; I/O left out,
  as in ``eiesim reproduce eie-table4``);
* NT-LSTM as the paper timed it: one 1201 -> 2400 fc M x V, dense input;
* NT-LSTM as a recurrent layer over a 20-word caption (``network.neuraltalk.nt_lstm_steps``):
  per step the M x V (compute), the load of x_t and the element-wise phase; steps 2 .. 20
  (h_{t-1} non-zero, as the paper's 100 % activation density) and step 1 (h_0 = 0);
* a 20-word caption: NT-We once, then per word one NT-LSTM step and one NT-Wd.
"""

from __future__ import annotations

from typing import Any

from eiesim.config.arch import load_arch

#: Table IV's actual times (us) of the NeuralTalk layers.
PAPER_ACTUAL_US = {"NT-We": 8.0, "NT-Wd": 13.9, "NT-LSTM": 7.5}
#: Table III: (in, out, weight density) of the fc layers (activation density 100 %).
FC_LAYERS = (("NT-We", 4096, 600, 0.10), ("NT-Wd", 600, 8791, 0.11), ("NT-LSTM", 1201, 2400, 0.10))
SEED = 0


def _arch() -> Any:
    from eiesim.config.defaults import packaged

    return load_arch(packaged("eie-64pe.yaml"))


def neuraltalk_rows(engine: str = "fast", seed: int = SEED, words: int = 20) -> dict[str, Any]:
    """The study's document: the fc rows, the recurrent NT-LSTM per step, the caption total."""
    from eiesim.network.neuraltalk import nt_lstm_steps
    from eiesim.network.synthetic import eie_fc_layer
    from eiesim.run.simulate import simulate

    arch = _arch()
    mhz = arch.clock_mhz
    rows = []
    for name, n_in, n_out, wd in FC_LAYERS:
        layer = simulate(arch, eie_fc_layer(name, n_in, n_out, wd, 1.0, arch.codebook_bits, seed), engine=engine,
                         check=True).layers[0]
        us = (layer.load_cycles + layer.compute_cycles + layer.store_cycles) / mhz
        rows.append({"layer": name if name != "NT-LSTM" else "NT-LSTM (one M x V)", "simulated_us": us,
                     "paper_actual_us": PAPER_ACTUAL_US[name], "error_pct": 100 * (us / PAPER_ACTUAL_US[name] - 1),
                     "compute_cycles": layer.compute_cycles, "entries_processed": layer.entries_processed})
    fc_us = {name: row["simulated_us"] for (name, *_), row in zip(FC_LAYERS, rows)}
    result = simulate(arch, nt_lstm_steps(arch.codebook_bits, seed, words), engine=engine, check=True)
    s = result.layers[0]
    steps = words
    from eiesim.timing.contract import TimingParams, recurrent_steps

    phases = recurrent_steps("lstm", s.rows, s.cols, 600, steps * 600)
    params = TimingParams.from_arch(arch)
    load_step = phases.load_cycles_per_step(params)
    elementwise_step = phases.elementwise_cycles_per_step(params)
    first = nt_lstm_steps(arch.codebook_bits, seed, 1)
    first_compute = simulate(arch, first, engine=engine, check=False).layers[0].compute_cycles
    later_compute = (s.compute_cycles - first_compute) / (steps - 1) if steps > 1 else float(first_compute)
    step_us = (load_step + later_compute + elementwise_step) / mhz
    lstm_total_us = (s.load_cycles + s.compute_cycles + s.store_cycles) / mhz
    caption_us = fc_us["NT-We"] + lstm_total_us + steps * fc_us["NT-Wd"]
    paper_caption_us = PAPER_ACTUAL_US["NT-We"] + steps * (PAPER_ACTUAL_US["NT-LSTM"] + PAPER_ACTUAL_US["NT-Wd"])
    recurrent = {
        "layer": "NT-LSTM (recurrent step)", "words": steps, "simulated_us": step_us,
        "paper_actual_us": PAPER_ACTUAL_US["NT-LSTM"], "error_pct": 100 * (step_us / PAPER_ACTUAL_US["NT-LSTM"] - 1),
        "mxv_us": later_compute / mhz, "load_us": load_step / mhz, "elementwise_us": elementwise_step / mhz,
        "step1_mxv_us": first_compute / mhz, "lstm_all_steps_us": lstm_total_us,
        "one_mxv_vs_step": step_us / fc_us["NT-LSTM"], "functional": result.check["functional"],
        "saturations": s.saturations,
        "elementwise_energy_pj": _elementwise_pj(result),
        "energy_uj_per_step": result.costs["energy"]["total_pj"] / steps / 1e6,
    }
    caption = {"words": steps, "simulated_us": caption_us, "paper_based_us": paper_caption_us,
               "error_pct": 100 * (caption_us / paper_caption_us - 1),
               "formula": "NT-We + sum of the NT-LSTM steps + words x NT-Wd (paper: 8.0 + 20 x (7.5 + 13.9))"}
    return {"engine": engine, "seed": seed, "rows": rows, "recurrent": recurrent, "caption": caption}


def _elementwise_pj(result: Any) -> float:
    """Energy of the element-wise actions (their per-action prices times the counts) of a run."""
    from eiesim.costs import get_cost_model

    costs = get_cost_model(result.arch.cost_model).component_costs(result.arch)
    acts = result.layers[0].actions
    total = 0.0
    for comp in costs:
        for action in ("elementwise_lookups", "elementwise_mults"):
            total += sum(comp.energy_pj.get(action, {}).values()) * acts.get(action, 0)
    return total
