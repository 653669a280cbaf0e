"""``eiesim compress``: Deep Compression (prune, k-means share) of a dense model, with a storage report.

The dense model is read by ``load_dense_any``, which picks a loader by file
suffix from ``DENSE_LOADERS``; another module adds formats (e.g. ``.onnx``) with
``register_dense_loader``. Densities come from ``--density`` and a
``--density-profile`` file; the optional agreement report
(``eiesim.importers.agreement``) compares the compressed workload with the uncompressed
model, for any input format.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from eiesim.cli.group import cli
from eiesim.errors import ModelFileError, UsageError
from eiesim.importers.agreement import agreement_inputs, agreement_report, load_density_profile
from eiesim.network.compress import compress_layer, storage_summary
from eiesim.network.dense import DenseModel, load_dense
from eiesim.network.workload import Workload
from eiesim.network.workload_file import save_workload
from eiesim.render.bounded_tables import shown


def _console() -> Console:
    """Rich console; wide enough for the tables when output goes to a file or pipe."""
    from eiesim.cli.tables import out_console

    return out_console()


#: A dense-model reader: ``loader(path, progress=None)``; ``progress(done, total, name)`` may be called per step.
DenseLoader = Callable[..., DenseModel]

#: Dense-model readers by lower-case file suffix.
DENSE_LOADERS: dict[str, DenseLoader] = {".npz": lambda path, progress=None: load_dense(path)}


def register_dense_loader(suffix: str, loader: DenseLoader) -> None:
    """Make ``eiesim compress`` read files ending in ``suffix`` with ``loader(path, progress=None)``."""
    DENSE_LOADERS[suffix.lower()] = loader


def load_dense_any(path: str | Path, progress: Callable[[int, int, str], None] | None = None) -> DenseModel:
    """Read a dense model with the loader registered for its suffix (``progress`` per step, if it has steps)."""
    path = Path(path)
    loader = DENSE_LOADERS.get(path.suffix.lower())
    if loader is None:
        raise ModelFileError(f"unknown dense model type {path.suffix!r}; readable: {', '.join(sorted(DENSE_LOADERS))}",
                             path)
    return loader(path, progress=progress)


def load_preprocess(text: str | None) -> dict[str, Any] | None:
    """``--preprocess``: a preset name (``imagenet``, ...), a JSON object inline, or a .json / .yaml file holding one."""
    if text is None:
        return None
    from eiesim.inputs.images import PREPROCESS_PRESETS
    from eiesim.inputs.text import parse_yaml, read_text

    if text in PREPROCESS_PRESETS:
        return dict(PREPROCESS_PRESETS[text])

    path = Path(text)
    source: str | Path = "--preprocess"
    if not text.lstrip().startswith("{"):
        if not path.is_file():
            raise UsageError(f"--preprocess {text!r}: neither a preset ({', '.join(PREPROCESS_PRESETS)}), "
                             "a JSON object nor an existing file")
        source, text = path, read_text(path, UsageError, "preprocess file")
    value = parse_yaml(text, source, UsageError)  # JSON is YAML
    if not isinstance(value, dict):
        raise UsageError("--preprocess must be a mapping such as {\"channel_order\": \"BGR\", \"mean\": [...]}", source)
    return value


def parse_densities(items: tuple[str, ...], layer_names: list[str],
                    profile: dict[str, float] | None = None) -> dict[str, float]:
    """Per-layer densities from ``--density`` values and a density profile (default 1.0 = no pruning).

    ``profile`` (layer -> density, from ``--density-profile``) sets its layers; a
    bare ``--density D`` sets every other layer, and ``--density LAYER=D``
    overrides both for that layer.
    """
    default = 1.0
    per_layer: dict[str, float] = dict(profile or {})
    for item in items:
        key, _, text = item.rpartition("=")
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"--density {item!r}: expected D or LAYER=D with D a number in [0, 1]") from None
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise UsageError(f"--density {item!r}: density must be in [0, 1]")
        if not key:
            default = value
        elif key not in layer_names:
            raise UsageError(f"--density {item!r}: no layer {key!r}; layers: {', '.join(layer_names)}")
        else:
            per_layer[key] = value
    return {name: per_layer.get(name, default) for name in layer_names}


def compress_model(model: DenseModel, densities: dict[str, float], bits: int,
                   progress: Callable[[int, int, str], None] | None = None,
                   balance_pes: int | None = None, balance_columns: bool = False) -> Workload:
    """Prune and weight-share every layer of ``model`` (``progress(done, total, layer)`` after each).

    ``balance_pes``: prune load-balance-aware for that many PEs (``eiesim.network.balance``), with
    ``balance_columns`` in every column as well.
    """
    layers = []
    for done, dl in enumerate(model.layers, 1):
        layers.append(compress_layer(dl.spec.name, dl.weight, dl.bias, density=densities[dl.spec.name], bits=bits,
                                     balance_pes=balance_pes, balance_columns=balance_columns,
                                     **dl.spec.layer_kwargs()))
        if progress is not None:
            progress(done, len(model.layers), dl.spec.name)
    for layer, dl in zip(layers, model.layers):
        layer.extra = dict(dl.extra)
    extra = dict(model.extra)
    extra["compress"] = {"bits": bits, "densities": densities}
    if balance_pes is not None:
        extra["compress"]["balance_pes"] = balance_pes
        if balance_columns:
            extra["compress"]["balance_columns"] = True
    return Workload(model.name, f"{model.source}; compressed by eiesim ({bits}-bit k-means)", model.input_shape,
                    model.preprocess, layers, model.input, extra)


@cli.command("compress")
@click.argument("dense", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Workload .npz to write.")
@click.option("--density", "densities", multiple=True, metavar="D | LAYER=D",
              help="Keep this fraction of weights (largest magnitudes), for all layers or one layer; "
                   "repeatable. Default 1.0: keep every non-zero (no pruning).")
@click.option("--bits", type=click.IntRange(1, 16), default=8, show_default=True, help="Codebook bits per layer.")
@click.option("--index-bits", type=click.IntRange(1, 16), default=4, show_default=True,
              help="Relative-index width of the storage report.")
@click.option("--density-profile", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="YAML or JSON file mapping layer name -> density; --density LAYER=D overrides it.")
@click.option("--image", "images", multiple=True, metavar="NAME|PATH",
              help="Input for the agreement report (bundled photo name, image file or .npy); repeatable.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the random agreement input used when no --image is given (compression itself "
                   "is deterministic).")
@click.option("--preprocess", default=None, metavar="PRESET|JSON|FILE",
              help="Image preprocessing to store in the workload (and use for --image): a preset (imagenet, "
                   "caffe-imagenet, none) or a mapping (keys resize, crop, channel_order, mean, scale, std); "
                   "default: the model's own.")
@click.option("--name", default=None, help="The workload's name (default: the model's; for .onnx the file name).")
@click.option("--balance-pes", type=click.IntRange(1, 1 << 16), default=None, metavar="N",
              help="Load-balance-aware pruning (ESE, FPGA 2017): every one of N PEs (row r on PE r mod N) keeps "
                   "the same number of weights (+-1) at the same overall density. Default: plain magnitude pruning.")
@click.option("--balance-columns", is_flag=True,
              help="With --balance-pes: also balance every column over the PEs (+-1; each column keeps as many "
                   "weights as magnitude pruning keeps in it).")
@click.option("--agreement/--no-agreement", default=None,
              help="Compare the compressed model with the uncompressed one (default: on for .onnx input "
                   "or when --image is given).")
def compress_command(dense: Path, output: Path, densities: tuple[str, ...], bits: int, index_bits: int,
                     density_profile: Path | None, images: tuple[str, ...], seed: int,
                     preprocess: str | None, name: str | None, balance_pes: int | None, balance_columns: bool,
                     agreement: bool | None) -> None:
    """Prune a dense model, share weights with k-means, and report its storage.

    DENSE may also be an ONNX model (.onnx; needs the onnx extra), read by eiesim import-onnx's rules.
    """
    if balance_columns and balance_pes is None:
        raise UsageError("--balance-columns needs --balance-pes N (the PEs to balance over)")
    pre = load_preprocess(preprocess)
    from eiesim.cli.progress import step_bar

    with step_bar(f"reading {dense.name}") as tick:
        model = load_dense_any(dense, tick)
    if pre is not None:
        model.preprocess = pre
    if name is not None:
        model.name = name
    if agreement is not False and (dense.suffix.lower() == ".onnx" or images or agreement):
        from eiesim.network.memory import check_workload_memory

        check_workload_memory(model, dense)  # the agreement report runs the model: refuse before compressing
    layer_names = [dl.spec.name for dl in model.layers]
    profile = load_density_profile(density_profile, layer_names) if density_profile is not None else None
    per_layer = parse_densities(densities, layer_names, profile)
    with step_bar("compressing") as tick:
        wl = compress_model(model, per_layer, bits, tick, balance_pes=balance_pes, balance_columns=balance_columns)
    save_workload(wl, output)
    _print_storage(wl, bits, index_bits, output)
    is_onnx = dense.suffix.lower() == ".onnx"
    if agreement is None:
        agreement = is_onnx or bool(images)
    if agreement:
        from eiesim.cli.progress import status_line

        with status_line("comparing the compressed model with the uncompressed one (functional reference)"):
            report = agreement_report(wl, model, agreement_inputs(model, images, seed), dense if is_onnx else None)
        _print_agreement(_console(), report)


def _print_storage(wl: Workload, bits: int, index_bits: int, output: Path) -> None:
    summary = storage_summary(wl, index_bits)
    table = Table(title=f"Storage of {wl.name}: {bits}-bit codes, {index_bits}-bit relative indices")
    for col in ("layer", "nnz", "density", "padding entries", "code bits", "index bits", "codebook+bias B", "total B",
                "Huffman B", "ratio vs dense"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for r in shown(summary["layers"], table, "layers"):
        table.add_row(r["name"], f"{r['nnz']:,}", f"{r['density']:.1%}", f"{r['padding_entries']:,}",
                      f"{r['codes_stream_bits']:,}", f"{r['index_stream_bits']:,}",
                      f"{(r['codebook_bits'] + r['bias_bits']) // 8:,}", f"{r['total_bytes']:,}",
                      f"{r['huffman_total_bytes']:,}", f"{r['compression_ratio']:.1f}x")
    t = summary["totals"]
    table.add_section()
    table.add_row("total", f"{t['nnz']:,}", f"{t['density']:.1%}", f"{t['padding_entries']:,}",
                  f"{t['codes_stream_bits']:,}", f"{t['index_stream_bits']:,}",
                  f"{(t['codebook_bits'] + t['bias_bits']) // 8:,}", f"{t['total_bytes']:,}",
                  f"{t['huffman_total_bytes']:,}", f"{t['compression_ratio']:.1f}x")
    console = _console()
    console.print(table)
    console.print(
        f"model size: {t['total_bytes']:,} B = {t['total_bytes'] / 1e6:.3f} MB ({t['total_bytes'] / 2**20:.3f} MiB) "
        f"without Huffman, {t['huffman_total_bytes']:,} B = {t['huffman_total_bytes'] / 1e6:.3f} MB with Huffman-coded "
        f"codes and indices; dense 32-bit {t['dense_bytes']:,} B; compression {t['compression_ratio']:.1f}x "
        f"({t['huffman_compression_ratio']:.1f}x with Huffman)")
    console.print(f"wrote {output}")


def _print_agreement(console: Console, report: dict[str, Any]) -> None:
    table = Table(title=f"Agreement with the uncompressed model (reference: {report['reference']})")
    for col in ("input", "top-1 compressed", "top-1 reference", "agree", "output max rel. error"):
        table.add_column(col, justify="left" if col == "input" else "right")
    for p in report["inputs"]:
        if "tokens" in p:  # a token output (an LM head): top-1 per token
            table.add_row(p["input"], "per token", "per token", f"{p['tokens_agree']} of {p['tokens']} tokens",
                          f"{p['output_max_rel_error']:.3g}")
            continue
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
    tokens = sum(p.get("tokens", 0) for p in report["inputs"])
    what = f"{tokens} tokens of " if tokens else ""
    console.print(f"top-1 agreement: {agreement:.0%} of {what}{len(report['inputs'])} input(s) "
                  f"(reference: {report['reference']})")
    if "import_check_max_rel_error" in report:
        console.print(f"import check: eiesim's dense float pass vs onnxruntime, max rel. error "
                      f"{report['import_check_max_rel_error']:.3g}")
