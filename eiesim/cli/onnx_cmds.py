"""ONNX on the command line: ``eiesim import-onnx``, ``eiesim export-onnx``, and ``eiesim compress MODEL.onnx``.

* ``import-onnx MODEL.onnx -o DENSE.npz``: the ONNX graph as an eiesim dense model
  (or, with ``--workload``, as a workload without any pruning or re-clustering).
* ``export-onnx WORKLOAD.npz -o MODEL.onnx``: the decoded (dense, shared-weight)
  network as ONNX, checked with onnxruntime when it is installed.
* ``compress``: this module registers the ``.onnx`` reader with
  ``compress_cmd.register_dense_loader`` and adds four options to the command
  (``--density-profile``, ``--image``, ``--seed``, ``--agreement/--no-agreement``)
  that produce the agreement report: the compressed workload's float forward
  pass against the uncompressed model (onnxruntime on the ONNX file when it is
  installed and the input is ONNX, else eiesim's float reference on the dense
  weights).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click
import numpy as np
import yaml
from rich.console import Console
from rich.table import Table

from eiesim.cli import cli, compress_cmd
from eiesim.dense import DenseModel, save_dense
from eiesim.errors import EiesimError, InputDataError, UsageError
from eiesim.functional import forward
from eiesim.images import prepare_input
from eiesim.onnx_import import import_onnx, onnxruntime_available, onnxruntime_forward, to_workload
from eiesim.workload import Workload, load_workload, save_workload

# -- library-style helpers (no printing) ------------------------------------------


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


def load_preprocess(text: str | None) -> dict[str, Any] | None:
    """``--preprocess``: a JSON object inline, or a .json / .yaml file holding one."""
    if text is None:
        return None
    path = Path(text)
    source: str | Path | None = None
    if not text.lstrip().startswith("{"):
        if not path.is_file():
            raise UsageError(f"--preprocess {text!r}: neither a JSON object nor an existing file")
        source, text = path, path.read_text(encoding="utf-8")
    try:
        value = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as exc:
        raise UsageError(f"--preprocess: not valid JSON/YAML ({exc})", source) from None
    if not isinstance(value, dict):
        raise UsageError("--preprocess must be a mapping such as {\"channel_order\": \"BGR\", \"mean\": [...]}", source)
    return value


def load_density_profile(path: Path, layer_names: list[str]) -> dict[str, float]:
    """A density profile file (YAML or JSON mapping layer name -> density in [0, 1])."""
    if not path.is_file():
        raise UsageError("no such density profile", path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"not a YAML/JSON density profile ({exc})", path) from None
    if not isinstance(data, dict) or not data:
        raise UsageError("a density profile must map layer names to densities (e.g. 'conv1: 0.85')", path)
    unknown = [k for k in data if k not in layer_names]
    if unknown:
        raise UsageError(f"layers {unknown} are not in the model; its layers: {', '.join(layer_names)}", path)
    out = {}
    for name, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not (math.isfinite(value) and 0 <= value <= 1):
            raise UsageError(f"layer {name!r}: density must be a number in [0, 1], got {value!r}", path)
        out[str(name)] = float(value)
    return out


def _max_rel_error(y: np.ndarray, ref: np.ndarray) -> float:
    """max |y - ref| / max |ref| (0 when both are zero): error relative to the layer's output range."""
    scale = float(np.max(np.abs(ref), initial=0.0))
    diff = float(np.max(np.abs(np.asarray(y, np.float64) - np.asarray(ref, np.float64)), initial=0.0))
    if scale == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / scale


def agreement_report(compressed: Workload, dense: DenseModel, inputs: list[tuple[str, np.ndarray]],
                     onnx_path: Path | None = None) -> dict[str, Any]:
    """Compare the compressed workload's float forward pass with the uncompressed model on ``inputs``.

    The reference output is onnxruntime's on ``onnx_path`` when given and onnxruntime
    is installed, else eiesim's float reference on the dense weights. Per-layer
    errors always compare eiesim's compressed and dense forward passes (the layer
    outputs after ReLU and pooling); ``max_rel_error`` = max |compressed - dense| /
    max |dense| over all inputs. Top-1 ties resolve to the lower class index.
    """
    use_ort = onnx_path is not None and onnxruntime_available()
    reference = to_workload(dense, strict=False)
    per_image = []
    layer_err = {layer.name: 0.0 for layer in compressed.layers}
    ort_vs_dense = 0.0
    for label, x in inputs:
        rc = forward(compressed, x)
        rd = forward(reference, x)
        for name in layer_err:
            layer_err[name] = max(layer_err[name], _max_rel_error(rc.outputs[name], rd.outputs[name]))
        ref_logits = rd.logits
        if use_ort:
            ref_logits = onnxruntime_forward(onnx_path, x, dense.extra.get("onnx_output"))
            if ref_logits.shape != rd.logits.shape:
                raise EiesimError(f"onnxruntime gives {ref_logits.size} outputs, eiesim's import {rd.logits.size}",
                                  onnx_path)
            ort_vs_dense = max(ort_vs_dense, _max_rel_error(rd.logits, ref_logits))
        top_c = int(np.argmax(rc.logits))
        top_r = int(np.argmax(ref_logits))
        per_image.append({"input": label, "top1_compressed": top_c, "top1_reference": top_r, "agree": top_c == top_r,
                          "output_max_rel_error": _max_rel_error(rc.logits, ref_logits)})
    report: dict[str, Any] = {
        "reference": "onnxruntime" if use_ort else "eiesim float reference on the dense weights",
        "inputs": per_image,
        "top1_agreement": sum(p["agree"] for p in per_image) / len(per_image) if per_image else None,
        "layers": [{"name": n, "max_rel_error": e} for n, e in layer_err.items()],
    }
    if use_ort:
        report["import_check_max_rel_error"] = ort_vs_dense
    return report


def agreement_inputs(model: DenseModel, images: tuple[str, ...], seed: int) -> list[tuple[str, np.ndarray]]:
    """The inputs of the agreement report: the given images, else one seeded random input in [0, 1)."""
    if images:
        return [(spec, prepare_input(model, spec)) for spec in images]
    if model.input is not None:
        return [("stored input", np.asarray(model.input, np.float32))]
    rng = np.random.default_rng(seed)
    return [(f"random (seed {seed})", rng.random(model.input_shape, dtype=np.float32))]


def _print_agreement(console: Console, report: dict[str, Any]) -> None:
    table = Table(title=f"Agreement with the uncompressed model (reference: {report['reference']})")
    for col in ("input", "top-1 compressed", "top-1 reference", "agree", "output max rel. error"):
        table.add_column(col, justify="left" if col == "input" else "right")
    for p in report["inputs"]:
        table.add_row(p["input"], str(p["top1_compressed"]), str(p["top1_reference"]), "yes" if p["agree"] else "NO",
                      f"{p['output_max_rel_error']:.3g}")
    console.print(table)
    layers = Table(title="Per-layer max relative error (compressed vs dense, eiesim float32)",
                   caption="max |compressed - dense| / max |dense| over the layer's output after ReLU and pooling")
    layers.add_column("layer")
    layers.add_column("max rel. error", justify="right")
    for row in report["layers"]:
        layers.add_row(row["name"], f"{row['max_rel_error']:.3g}")
    console.print(layers)
    agreement = report["top1_agreement"]
    console.print(f"top-1 agreement: {agreement:.0%} of {len(report['inputs'])} input(s) "
                  f"(reference: {report['reference']})")
    if "import_check_max_rel_error" in report:
        console.print(f"import check: eiesim's dense float pass vs onnxruntime, max rel. error "
                      f"{report['import_check_max_rel_error']:.3g}")


# -- eiesim compress MODEL.onnx -----------------------------------------------------

def _load_onnx_dense(path: Path) -> DenseModel:
    return import_onnx(path)


compress_cmd.register_dense_loader(".onnx", _load_onnx_dense)

_compress = compress_cmd.compress_command
_compress_callback = _compress.callback
_EXTRA_OPTIONS = [
    click.Option(["--density-profile"], type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="YAML or JSON file mapping layer name -> density; --density LAYER=D overrides it."),
    click.Option(["--image", "images"], multiple=True, metavar="NAME|PATH",
                 help="Input for the agreement report (bundled photo name, image file or .npy); repeatable."),
    click.Option(["--seed"], type=int, default=0, show_default=True,
                 help="Seed of the random agreement input used when no --image is given (compression itself "
                      "is deterministic)."),
    click.Option(["--agreement/--no-agreement"], default=None,
                 help="Compare the compressed model with the uncompressed one (default: on for .onnx input "
                      "or when --image is given)."),
]
# Add only what compress_cmd does not define itself, and hand its own options back to it untouched.
_existing = {p.name for p in _compress.params}
_ADDED = {o.name for o in _EXTRA_OPTIONS if o.name not in _existing}
_compress.params.extend(o for o in _EXTRA_OPTIONS if o.name in _ADDED)
_compress.help = (_compress.help or "") + (
    "\n\nDENSE may also be an ONNX model (.onnx; needs the onnx extra), read by eiesim import-onnx's rules.")


def _compress_with_agreement(**kwargs: Any) -> None:
    ours = {name: (kwargs.pop(name) if name in _ADDED else kwargs.get(name)) for name in
            ("density_profile", "images", "seed", "agreement")}
    profile_path: Path | None = ours["density_profile"]
    images: tuple[str, ...] = tuple(ours["images"] or ())
    seed: int = ours["seed"] if ours["seed"] is not None else 0
    agreement: bool | None = ours["agreement"]
    dense_path = Path(kwargs["dense"])
    is_onnx = dense_path.suffix.lower() == ".onnx"
    if agreement is None:
        agreement = is_onnx or bool(images)
    model: DenseModel | None = None
    if profile_path is not None and "density_profile" in _ADDED:
        model = compress_cmd.load_dense_any(dense_path)
        profile = load_density_profile(profile_path, [dl.spec.name for dl in model.layers])
        kwargs["densities"] = tuple(f"{k}={v!r}" for k, v in profile.items()) + tuple(kwargs["densities"])
    _compress_callback(**kwargs)
    if not agreement or "agreement" not in _ADDED:
        return
    if model is None:
        model = compress_cmd.load_dense_any(dense_path)
    compressed = load_workload(kwargs["output"])
    report = agreement_report(compressed, model, agreement_inputs(model, images, seed), dense_path if is_onnx else None)
    _print_agreement(Console(), report)


_compress.callback = _compress_with_agreement


# -- eiesim import-onnx / export-onnx --------------------------------------------------

@cli.command("import-onnx")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Dense model .npz to write (a workload with --workload).")
@click.option("--workload", "as_workload", is_flag=True,
              help="Write a workload instead, without pruning or re-clustering: each layer's distinct weights "
                   "become its codebook (for models whose weights are already shared, e.g. from export-onnx).")
@click.option("--input-shape", default=None, metavar="C,H,W",
              help="Input shape without batch, for graphs whose input has symbolic dimensions.")
@click.option("--preprocess", default=None, metavar="JSON|FILE",
              help="Image preprocessing to store (keys resize, crop, channel_order, mean, scale); default: the "
                   "model's eiesim metadata, else none (resize to the input size, RGB, values 0..1).")
def import_onnx_command(model: Path, output: Path, as_workload: bool, input_shape: str | None,
                        preprocess: str | None) -> None:
    """Read an ONNX MODEL into eiesim's dense model format (input of eiesim compress)."""
    dense = import_onnx(model, input_shape=parse_input_shape(input_shape))
    pre = load_preprocess(preprocess)
    if pre is not None:
        dense.preprocess = pre
    if as_workload:
        wl = to_workload(dense)
        save_workload(wl, output)
    else:
        save_dense(dense, output)
    console = Console()
    table = Table(title=f"{dense.name}: {len(dense.layers)} layers from {model.name}, input {list(dense.input_shape)}")
    for col in ("layer", "kind", "weight (out,in,kh,kw)", "stride", "pad", "relu", "pool", "inputs", "density"):
        table.add_column(col, justify="right" if col in ("stride", "pad", "density") else "left")
    for dl in dense.layers:
        s = dl.spec
        pool = "-" if s.pool is None else (
            "global avg" if s.pool.kind == "global_avg"
            else f"{s.pool.kind} {s.pool.kernel}/{s.pool.stride}{' ceil' if s.pool.ceil_mode else ''}")
        density = float(np.count_nonzero(dl.weight)) / dl.weight.size
        table.add_row(s.name, s.kind, "x".join(map(str, s.weight_shape)), "x".join(map(str, s.stride)),
                      "x".join(map(str, s.padding)), "yes" if s.relu else "no", pool, ", ".join(s.inputs),
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
    from eiesim.onnx_export import export_onnx

    wl = load_workload(workload)
    export_onnx(wl, output)
    console = Console()
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
    rel = _max_rel_error(theirs, ours.logits)
    console.print(f"check on {label}: top-1 onnxruntime {int(np.argmax(theirs))}, eiesim float "
                  f"{int(np.argmax(ours.logits))}; max |difference| / max |output| = {rel:.3g}")


__all__ = ["agreement_report", "agreement_inputs", "load_density_profile", "load_preprocess", "parse_input_shape",
           "import_onnx_command", "export_onnx_command"]
