"""``eiesim infer``: run the functional reference on one input and show top-5 and per-layer densities."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from eiesim.cli.group import cli
from eiesim.network.class_names import class_names_for
from eiesim.network.functional import PRECISIONS, ForwardResult, forward
from eiesim.network.network_input import default_input, prepare_input
from eiesim.network.workload import Workload
from eiesim.network.workload_file import load_workload
from eiesim.outputs.commit import write_text
from eiesim.render.bounded_tables import shown


def top5_names(result: ForwardResult) -> list[str] | None:
    """The class names of the top-5 classes (ImageNet's, for a network with 1000 outputs), else None."""
    names = class_names_for(int(result.probabilities.size))
    return None if names is None else [names[index] for index, _ in result.top5]


def infer_report(workload: Workload, result: ForwardResult, image: str | None) -> dict[str, Any]:
    """The JSON document ``eiesim infer --json`` writes (``top5_names``: null without class names)."""
    fixed = result.plan is not None
    doc: dict[str, Any] = {
        "workload": workload.name,
        "precision": result.precision,
        "image": image,
        "top5": result.top5,
        "top5_names": top5_names(result),
        "layers": [
            {
                "name": layer.name,
                "output_shape": list(result.outputs[layer.name].shape),
                "input_density": result.input_density[layer.name],
                "output_density": result.output_density[layer.name],
                "output_density_before_pool": result.output_density_before_pool[layer.name],
                "saturations": result.saturations[layer.name] if fixed else None,
            }
            for layer in workload.layers
        ],
    }
    if result.plan is not None:
        doc["input_saturations"] = result.input_saturations
        doc["fixed_point"] = result.plan.to_dict()
    return doc


@cli.command("infer")
@click.argument("workload", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--image", default=None, metavar="NAME|PATH",
              help="Image file, bundled photo name (chelsea, coffee, astronaut, rocket, ...) or .npy array "
                   "(default: the input stored in the workload, else the photo chelsea).")
@click.option("--precision", type=click.Choice(PRECISIONS), default="float32", show_default=True,
              help="float32 reference or EIE's 16-bit fixed-point datapath.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the result as JSON to this file.")
def infer_command(workload: Path, image: str | None, precision: str, json_path: Path | None) -> None:
    """Run WORKLOAD (.npz) on one input: top-5 classes and per-layer activation densities."""
    wl = load_workload(workload)
    x = prepare_input(wl, image)  # no --image: the workload's input, else the bundled photo (default_input)
    result = forward(wl, x, precision)
    from eiesim.cli.tables import out_console

    console = out_console()
    used = default_input(wl, image)
    source = used if used is not None else "stored input"
    names = top5_names(result)
    top = Table(title=f"{wl.name} on {source} ({precision}): top-5",
                caption=None if names is None else "class: ImageNet (ILSVRC-2012) class name")
    top.add_column("rank", justify="right")
    top.add_column("class index", justify="right")
    if names is not None:
        top.add_column("class")
    top.add_column("probability", justify="right")
    for rank, (idx, prob) in enumerate(result.top5, 1):
        top.add_row(str(rank), str(idx), *([names[rank - 1]] if names is not None else []), f"{prob:.4f}")
    console.print(top)

    fixed = result.plan is not None
    layers = Table(title="Per-layer activations: fraction of non-zero values", caption=(
        "in: the layer's input; pre-pool: its output after ReLU; out: after pooling (what the next layer reads)"
        + ("; sat: values saturated to 16 bits; frac: fractional bits of input/output" if fixed else "")))
    layers.add_column("layer", no_wrap=True)
    for col in ("output", "in", "pre-pool", "out") + (("sat", "frac") if fixed else ()):
        layers.add_column(col, justify="right", no_wrap=True)
    for layer in shown(wl.layers, layers, "layers", "all of them: --json"):
        n = layer.name
        row = [n, "x".join(map(str, result.outputs[n].shape)), f"{result.input_density[n]:.3f}",
               f"{result.output_density_before_pool[n]:.3f}", f"{result.output_density[n]:.3f}"]
        if result.plan is not None:
            fmt = result.plan.format(n)
            row += [str(result.saturations[n]), f"{fmt.in_frac}/{fmt.out_frac}"]
        layers.add_row(*row)
    console.print(layers)
    if fixed:
        console.print(f"saturations: {result.total_saturations} in layers, {result.input_saturations} in the input "
                      f"(16-bit formats per layer; see docs/fixed-point.md)")
    if json_path is not None:
        write_text(json_path, json.dumps(infer_report(wl, result, image), indent=2) + "\n")
        console.print(f"wrote {json_path}")
