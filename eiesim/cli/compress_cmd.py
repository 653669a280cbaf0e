"""``eiesim compress``: Deep Compression (prune, k-means share) of a dense model, with a storage report.

The dense model is read by ``load_dense_any``, which picks a loader by file
suffix from ``DENSE_LOADERS``; another module adds formats (e.g. ``.onnx``) with
``register_dense_loader``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import sys

import click
from rich.console import Console
from rich.table import Table

from eiesim.cli import cli


def _console() -> Console:
    """Rich console; wide enough for the tables when output goes to a file or pipe."""
    return Console() if sys.stdout.isatty() else Console(width=140)
from eiesim.compress import compress_layer, storage_summary
from eiesim.dense import DenseModel, load_dense
from eiesim.errors import ModelFileError, UsageError
from eiesim.workload import Workload, save_workload

#: Dense-model readers by lower-case file suffix.
DENSE_LOADERS: dict[str, Callable[[Path], DenseModel]] = {".npz": load_dense}


def register_dense_loader(suffix: str, loader: Callable[[Path], DenseModel]) -> None:
    """Make ``eiesim compress`` read files ending in ``suffix`` with ``loader``."""
    DENSE_LOADERS[suffix.lower()] = loader


def load_dense_any(path: str | Path) -> DenseModel:
    """Read a dense model with the loader registered for its suffix."""
    path = Path(path)
    loader = DENSE_LOADERS.get(path.suffix.lower())
    if loader is None:
        raise ModelFileError(f"unknown dense model type {path.suffix!r}; readable: {', '.join(sorted(DENSE_LOADERS))}",
                             path)
    return loader(path)


def parse_densities(items: tuple[str, ...], layer_names: list[str]) -> dict[str, float]:
    """``--density`` values: one bare D for every layer and/or LAYER=D overrides (default 1.0 = no pruning)."""
    default = 1.0
    per_layer: dict[str, float] = {}
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


def compress_model(model: DenseModel, densities: dict[str, float], bits: int) -> Workload:
    """Prune and weight-share every layer of ``model``."""
    layers = [compress_layer(dl.spec.name, dl.weight, dl.bias, density=densities[dl.spec.name], bits=bits,
                             **dl.spec.layer_kwargs()) for dl in model.layers]
    for layer, dl in zip(layers, model.layers):
        layer.extra = dict(dl.extra)
    extra = dict(model.extra)
    extra["compress"] = {"bits": bits, "densities": densities}
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
def compress_command(dense: Path, output: Path, densities: tuple[str, ...], bits: int, index_bits: int) -> None:
    """Prune a dense model, share weights with k-means, and report its storage."""
    model = load_dense_any(dense)
    per_layer = parse_densities(densities, [dl.spec.name for dl in model.layers])
    wl = compress_model(model, per_layer, bits)
    save_workload(wl, output)
    summary = storage_summary(wl, index_bits)
    table = Table(title=f"Storage of {wl.name}: {bits}-bit codes, {index_bits}-bit relative indices")
    for col in ("layer", "nnz", "density", "padding", "code bits", "index bits", "codebook+bias B", "total B",
                "Huffman B", "ratio vs dense"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for r in summary["layers"]:
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
