"""Workload commands: ``import-dc``, ``workload``, ``info``, ``export-dense``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from eiesim.cli.group import cli


def _console() -> Console:
    """Rich console; wide enough for the tables when output goes to a file or pipe."""
    from eiesim.cli.tables import out_console

    return out_console()
from eiesim.errors import UsageError
from eiesim.importers.caffe.deep_compression import import_dc
from eiesim.network.compress import storage_summary
from eiesim.network.dense import dense_from_workload, save_dense
from eiesim.network.host_ops import host_work_summary
from eiesim.network.neuraltalk import NEURALTALK_WORKLOADS, neuraltalk_names
from eiesim.network.synthetic import make_workload, workload_names
from eiesim.network.workload import Workload
from eiesim.network.workload_file import load_workload, save_workload
from eiesim.render.bounded_tables import shown


@cli.command("import-dc")
@click.argument("net_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--prototxt", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Caffe deploy prototxt giving the topology (default: built-in SqueezeNet v1.0).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Workload .npz to write.")
def import_dc_command(net_file: Path, prototxt: Path | None, output: Path) -> None:
    """Decode a Deep-Compression .net file (e.g. compressed_SqueezeNet.net) into a workload."""
    wl = import_dc(net_file, prototxt)
    save_workload(wl, output)
    info = wl.extra.get("import", {})
    click.echo(f"{net_file}: {len(wl.layers)} layers, {wl.nnz:,} non-zero weights "
               f"({info.get('stored_entries', 0):,} stored entries, "
               f"{info.get('padding_entries_dropped', 0):,} padding entries dropped)")
    click.echo(f"wrote {output}")


def _parse_set(items: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"--set {item!r}: expected KEY=VALUE, e.g. in=4096 or weight_density=0.09")
        key, text = (s.strip() for s in item.split("=", 1))
        value: Any = text
        for conv in (int, float):
            try:
                value = conv(text)
                break
            except ValueError:
                continue
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"--set {item!r}: value must be finite")
        params[key] = value
    return params


@cli.command("workload")
@click.argument("name", required=False)
@click.option("--bits", type=int, default=None, help="Codebook bits (default 8 for SqueezeNet, 4 for fc layers).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same bytes).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="eie-fc parameters: in, out, weight_density, act_density, name.")
@click.option("--list", "list_names", is_flag=True, help="List the workload names and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --list: print the names and descriptions as JSON.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Workload .npz to write.")
def workload_command(name: str | None, bits: int | None, seed: int, settings: tuple[str, ...], list_names: bool,
                     as_json: bool, output: Path | None) -> None:
    """Make a deterministic synthetic workload (see --list)."""
    if list_names and as_json:
        click.echo(json.dumps({**workload_names(), **neuraltalk_names()}, indent=2))
        return
    if list_names:
        table = Table(title="Synthetic workloads (eiesim workload NAME -o OUT.npz)")
        table.add_column("name")
        table.add_column("description")
        for key, doc in {**workload_names(), **neuraltalk_names()}.items():
            table.add_row(key, doc)
        _console().print(table)
        return
    if name is None or output is None:
        raise UsageError("give a workload NAME and -o OUT.npz (or --list)")
    params = _parse_set(settings)
    if params and name != "eie-fc":
        raise UsageError(f"--set is only for eie-fc, not {name!r}")
    if bits is not None:
        params["bits"] = bits
    if name in NEURALTALK_WORKLOADS:
        wl = NEURALTALK_WORKLOADS[name](seed=seed, **params)
    else:
        wl = make_workload(name, seed=seed, **params)
    save_workload(wl, output)
    click.echo(f"{wl.name}: {len(wl.layers)} layer{'s' if len(wl.layers) != 1 else ''}, {wl.nnz:,} non-zero weights; "
               f"wrote {output}")


def _fmt_pair(p: tuple[int, int]) -> str:
    return f"{p[0]}x{p[1]}"


def _write_back(layer: Any) -> dict[str, Any]:
    """A layer's optional write-back and load keys (residual, activation, input pool), only those it has."""
    return {key: layer.extra[key] for key in ("residual", "activation", "input_pool") if key in layer.extra}


def _write_back_text(row: dict[str, Any]) -> str:
    parts = []
    if "input_pool" in row:
        parts.append(f"input {row['input_pool']['kind']} pool {row['input_pool']['kernel']}")
    if "residual" in row:
        parts.append(f"+ {row['residual']}")
    if "activation" in row:
        parts.append(str(row["activation"]["kind"]))
    return ", ".join(parts)


def info_dict(wl: Workload, index_bits: int) -> dict[str, Any]:
    """The machine-readable content of ``eiesim info --json``."""
    storage = storage_summary(wl, index_bits)
    layers = []
    for layer, rep in zip(wl.layers, storage["layers"]):
        layers.append({
            "name": layer.name, "kind": layer.kind, "rows": layer.rows, "cols": layer.cols,
            "in_channels": layer.in_channels, "out_channels": layer.out_channels, "kernel": list(layer.kernel),
            "stride": list(layer.stride), "padding": list(layer.padding), "inputs": list(layer.inputs),
            "relu": layer.relu, "pool": layer.pool.to_meta() if layer.pool else None,
            "output_shape": list(wl.output_shapes()[layer.name]), "nnz": layer.nnz, "density": layer.density,
            "codebook_entries": len(layer.codebook), "codebook_bits": layer.codebook_bits,
            "padding_entries": rep["padding_entries"], "storage_bytes": rep["total_bytes"],
            "huffman_bytes": rep["huffman_total_bytes"],
            **_write_back(layer),
        })
    t = storage["totals"]
    host = host_work_summary(wl)
    return {
        "name": wl.name, "source": wl.source, "input_shape": list(wl.input_shape),
        "has_input": wl.input is not None, "index_bits": index_bits, "layers": layers,
        "onnx_coverage": wl.extra.get("onnx_coverage"),
        "totals": {"layers": len(layers), "weights": t["weights"], "nnz": t["nnz"], "density": t["density"],
                   "padding_entries": t["padding_entries"], "storage_bytes": t["total_bytes"],
                   "huffman_bytes": t["huffman_total_bytes"], "dense_bytes": t["dense_bytes"]},
        **({"host_work": host} if host is not None else {}),
    }


@cli.command("info")
@click.argument("workload", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--index-bits", type=click.IntRange(1, 16), default=4, show_default=True,
              help="Relative-index width for the padding-entries and storage columns.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON to stdout.")
def info_command(workload: Path, index_bits: int, as_json: bool) -> None:
    """Show a workload's layers: shapes, non-zeros, density, codebook bits, storage."""
    wl = load_workload(workload)
    data = info_dict(wl, index_bits)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    table = Table(title=f"{wl.name} ({workload})", caption=f"source: {wl.source}")
    for col, justify in (("layer", "left"), ("kind", "left"), ("M x V", "right"),
                         ("kernel / stride / zero padding", "left"), ("nnz", "right"), ("density", "right"),
                         ("cb bits", "right"),
                         (f"padding entries ({index_bits}-bit idx)", "right"), ("storage B", "right")):
        table.add_column(col, justify="right" if justify == "right" else "left")
    extra_col = any(_write_back_text(row) for row in data["layers"])  # only for networks that have such work
    if extra_col:
        table.add_column("write-back / load", justify="left")
    for row in shown(data["layers"], table, "layers", "all of them: --json"):
        table.add_row(row["name"], row["kind"], f"{row['rows']} x {row['cols']}",
                      f"{_fmt_pair(row['kernel'])} / {_fmt_pair(row['stride'])} / {_fmt_pair(row['padding'])}",
                      f"{row['nnz']:,}", f"{row['density']:.1%}", str(row["codebook_bits"]),
                      f"{row['padding_entries']:,}", f"{row['storage_bytes']:,}",
                      *([_write_back_text(row)] if extra_col else []))
    t = data["totals"]
    table.add_section()
    table.add_row("total", f"{t['layers']} layers", f"{t['weights']:,} weights", "", f"{t['nnz']:,}",
                  f"{t['density']:.1%}", "", f"{t['padding_entries']:,}", f"{t['storage_bytes']:,}",
                  *([""] if extra_col else []))
    console = _console()
    console.print(table)
    console.print(f"input {list(wl.input_shape)}{' (stored in the workload)' if wl.input is not None else ''}; "
                  f"storage = codes + {index_bits}-bit relative indices (with padding entries) + 32-bit codebooks "
                  f"and biases: {t['storage_bytes']:,} B; Huffman-coded {t['huffman_bytes']:,} B; "
                  f"dense 32-bit {t['dense_bytes']:,} B")
    host = data.get("host_work")
    if host is not None:
        console.print(f"host work per inference (not in EIE's cycles): {host['ops']} host ops, "
                      f"{host['operations']:,} operations ({host['multiplies']:,} mul, {host['adds']:,} add, "
                      f"{host['exps']:,} exp, {host['divides']:,} div, {host['others']:,} other); "
                      f"{host['bytes_from_chip']:,} B from the chip, {host['bytes_to_chip']:,} B back")
    rows = wl.extra.get("onnx_coverage")
    if isinstance(rows, list) and rows:
        from eiesim.cli.tables import coverage_table

        console.print(coverage_table(rows, "ONNX import: where each node runs"))


@cli.command("export-dense")
@click.argument("workload", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Dense model .npz to write (docs/workload-format.md, 'Dense models').")
def export_dense_command(workload: Path, output: Path) -> None:
    """Decode a workload to dense float32 weights (the input format of `eiesim compress`)."""
    wl = load_workload(workload)
    save_dense(dense_from_workload(wl), output)
    click.echo(f"{wl.name}: {len(wl.layers)} layers decoded to dense weights; wrote {output}")
