"""``eiesim trace``: a Chrome/Perfetto trace of one layer (per-PE states, CCU phases and stalls)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from eiesim.cli.group import cli
from eiesim.errors import UsageError


@cli.command("trace")
@click.argument("arch", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("workload", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--layer", "layer_name", required=True, help="Name of the layer to trace (see `eiesim info`).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Trace file (default: trace-<layer>.json).")
@click.option("--max-events", type=click.IntRange(1, 50_000_000), default=200_000, show_default=True,
              help="Cap on span events; a longer layer is cut (the trace metadata says where).")
@click.option("--image", default=None,
              help="Input image: path or bundled photo name (default: the workload's input, else the photo chelsea).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override an architecture key.")
def trace_command(arch: Path, workload: Path, layer_name: str, output: Path | None, max_events: int,
                  image: str | None, overrides: tuple[str, ...]) -> None:
    """Write a trace of one layer, viewable in ui.perfetto.dev or chrome://tracing (1 us = 1 cycle)."""
    from eiesim.cli.progress import status_line
    from eiesim.config.arch import load_arch
    from eiesim.inputs.files import require_regular_file
    from eiesim.network.workload_file import load_workload
    from eiesim.outputs.commit import write_text
    from eiesim.outputs.paths import check_not_input, check_output_file
    from eiesim.timing.trace import layer_trace

    for path in (arch, workload):
        require_regular_file(path, UsageError)  # missing, a directory, a FIFO or a device: one line
    target = output if output is not None else Path(f"trace-{layer_name}.json")
    check_output_file(target)
    check_not_input(target, [arch, workload] + ([image] if image and Path(image).exists() else []))
    with status_line(f"loading {workload.name}") as status:
        cfg = load_arch(arch, list(overrides))
        wl = load_workload(workload)
        status(f"tracing layer {layer_name} (its input from the functional reference, then every cycle)")
        trace = layer_trace(cfg, wl, layer_name, input=image, max_events=max_events)
        status(f"writing {target}")
        write_text(target, json.dumps(trace, separators=(",", ":")))
    meta = trace["metadata"]
    if meta["truncated"]:
        click.echo(f"wrote {target}: layer {layer_name}, {meta['span_events']:,} span events; TRUNCATED at "
                   f"--max-events {meta['max_events']:,}: complete before cycle {meta['complete_before_cycle']:,} "
                   f"({meta['rounds_traced']:,} of {meta['rounds_total']:,} rounds)")
    else:
        click.echo(f"wrote {target}: layer {layer_name}, {meta['layer_cycles']:,} cycles, "
                   f"{meta['rounds_total']:,} rounds, {meta['span_events']:,} span events")
