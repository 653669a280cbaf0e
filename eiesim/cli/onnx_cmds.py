"""ONNX on the command line: ``eiesim import-onnx``, ``eiesim export-onnx``, and the ``.onnx`` reader of ``compress``.

* ``import-onnx MODEL.onnx -o DENSE.npz``: the ONNX graph as an eiesim dense model
  (or, with ``--workload``, as a workload without any pruning or re-clustering).
* ``export-onnx WORKLOAD.npz -o MODEL.onnx``: the decoded (dense, shared-weight)
  network as ONNX, checked with onnxruntime when it is installed.
* ``compress MODEL.onnx``: this module registers the ``.onnx`` reader with
  ``compress_cmd.register_dense_loader``; the command itself (densities, density
  profile, agreement report) lives in ``eiesim.cli.compress_cmd``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.table import Table

from eiesim.cli import compress_cmd
from eiesim.cli.compress_cmd import load_preprocess
from eiesim.cli.group import cli
from eiesim.errors import InputDataError, UsageError
from eiesim.importers.agreement import max_rel_error
from eiesim.importers.onnx.optional import onnxruntime_available
from eiesim.importers.onnx.runtime import onnxruntime_forward
from eiesim.importers.onnx.walker import import_onnx, import_onnx_report
from eiesim.network.dense import save_dense, to_workload
from eiesim.network.functional import forward
from eiesim.network.network_input import prepare_input
from eiesim.network.workload_file import load_workload, save_workload
from eiesim.network.workload import DILATION_KEY, PADS_KEY

# -- option parsing -------------------------------------------------------------------


def parse_input_shape(text: str | None) -> tuple[int, ...] | None:
    """``--input-shape C,H,W`` (or ``K``) -> tuple."""
    if text is None:
        return None
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise UsageError(f"--input-shape {text!r}: expected C,H,W or K (positive integers)") from None
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise UsageError(f"--input-shape {text!r}: expected C,H,W or K (positive integers)")
    return shape


# -- eiesim compress MODEL.onnx -----------------------------------------------------

compress_cmd.register_dense_loader(".onnx", lambda path, progress=None: import_onnx(path, progress=progress))


# -- eiesim import-onnx / export-onnx --------------------------------------------------

@cli.command("import-onnx")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Dense model .npz to write (a workload with --workload); optional with --report.")
@click.option("--report", "coverage", is_flag=True,
              help="Print the coverage report: every node, where it runs (EIE layer / folded / dropped / refused) "
                   "and why; for a refused model too, before the error naming every blocking operator.")
@click.option("--workload", "as_workload", is_flag=True,
              help="Write a workload instead, without pruning or re-clustering: each layer's distinct weights "
                   "become its codebook (for models whose weights are already shared, e.g. from export-onnx).")
@click.option("--input-shape", default=None, metavar="C,H,W",
              help="Input shape without batch, for graphs whose input has symbolic dimensions.")
@click.option("--preprocess", default=None, metavar="PRESET|JSON|FILE",
              help="Image preprocessing to store: a preset (imagenet, caffe-imagenet, none) or a mapping (keys "
                   "resize, crop, channel_order, mean, scale, std); default: the model's eiesim metadata, else none "
                   "(resize to the input size, RGB, values 0..1).")
@click.option("--name", default=None, help="The model's name (default: the file name without its suffix).")
def import_onnx_command(model: Path, output: Path | None, coverage: bool, as_workload: bool,
                        input_shape: str | None, preprocess: str | None, name: str | None) -> None:
    """Read an ONNX MODEL into eiesim's dense model format (input of eiesim compress)."""
    if output is None and not coverage:
        raise UsageError("give -o/--output (the file to write), or --report to only list the nodes")
    pre = load_preprocess(preprocess)
    from eiesim.cli.tables import coverage_table, out_console

    console = out_console()
    from eiesim.cli.progress import step_bar

    with step_bar(f"importing {model.name}") as tick:
        dense, rows, error = import_onnx_report(model, input_shape=parse_input_shape(input_shape), progress=tick)
    if coverage:
        console.print(coverage_table([r.to_meta() for r in rows], f"{model.name}: where each node runs"))
    if error is not None:
        raise error
    assert dense is not None
    if pre is not None:
        dense.preprocess = pre
    if name is not None:
        dense.name = name
    if output is None:
        return
    if as_workload:
        wl = to_workload(dense)
        save_workload(wl, output)
    else:
        save_dense(dense, output)
    table = Table(title=f"{dense.name}: {len(dense.layers)} layers from {model.name}, input {list(dense.input_shape)}")
    for col in ("layer", "kind", "weight (out,in,kh,kw)", "stride", "zero padding", "relu", "pool", "inputs",
                "density"):
        table.add_column(col, justify="right" if col in ("stride", "zero padding", "density") else "left")
    for dl in dense.layers:
        s = dl.spec
        pool = "-" if s.pool is None else (
            "global avg" if s.pool.kind == "global_avg"
            else f"{s.pool.kind} {s.pool.kernel}/{s.pool.stride}{' ceil' if s.pool.ceil_mode else ''}"
                 f"{f' pad {s.pool.pad}' if s.pool.pad else ''}")
        density = float(np.count_nonzero(dl.weight)) / dl.weight.size
        dilation = dl.extra.get(DILATION_KEY)
        stride = "x".join(map(str, s.stride)) + (f" dilation {'x'.join(map(str, dilation))}" if dilation else "")
        padding = "x".join(map(str, dl.extra.get(PADS_KEY, s.padding)))  # asymmetric: top x left x bottom x right
        table.add_row(s.name, s.kind, "x".join(map(str, s.weight_shape)), stride,
                      padding, "yes" if s.relu else "no", pool, ", ".join(s.inputs),
                      f"{density:.1%}")
    console.print(table)
    for note in dense.extra.get("import_notes", []):
        console.print(f"note: {note}")
    console.print(f"wrote {output}" + (" (workload, weights unchanged)" if as_workload else " (dense model)"))


@cli.command("export-onnx")
@click.argument("workload", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="ONNX file to write.")
@click.option("--image", default=None, metavar="NAME|PATH",
              help="Input for the check against onnxruntime (default: the workload's stored input, else a "
                   "seeded random input).")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Run the written file with onnxruntime (if installed) and compare with eiesim's float pass.")
def export_onnx_command(workload: Path, output: Path, image: str | None, check: bool) -> None:
    """Write WORKLOAD's decoded (dense, shared-weight) network as an ONNX model."""
    from eiesim.importers.onnx.export import export_onnx

    wl = load_workload(workload)
    export_onnx(wl, output)
    from eiesim.cli.tables import out_console

    console = out_console()
    console.print(f"wrote {output} ({output.stat().st_size:,} bytes, {len(wl.layers)} layers, "
                  f"{wl.nnz:,} non-zero weights stored densely)")
    if not check:
        return
    if not onnxruntime_available():
        console.print("onnxruntime is not installed: skipped the check (pip install 'eiesim[onnx]')")
        return
    if image is not None:
        x, label = prepare_input(wl, image), image
    elif wl.input is not None:
        x, label = np.asarray(wl.input, np.float32), "stored input"
    else:
        x, label = np.random.default_rng(0).random(wl.input_shape, dtype=np.float32), "random input (seed 0)"
    ours = forward(wl, x)
    theirs = onnxruntime_forward(output, x)
    if theirs.shape != ours.logits.shape:
        raise InputDataError(f"onnxruntime gives {theirs.size} outputs, eiesim {ours.logits.size}", output)
    rel = max_rel_error(theirs, ours.logits)
    console.print(f"check on {label}: top-1 onnxruntime {int(np.argmax(theirs))}, eiesim float "
                  f"{int(np.argmax(ours.logits))}; max |difference| / max |output| = {rel:.3g}")


__all__ = ["load_preprocess", "parse_input_shape", "import_onnx_command", "export_onnx_command"]
