"""``eiesim run``: simulate a workload on an architecture and print/save the report."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from eiesim.cli.group import cli
from eiesim.errors import ArchError, UsageError
from eiesim.inputs.files import require_regular_file
from eiesim.outputs.commit import OutputSet
from eiesim.outputs.paths import check_dir_holds_no_input, check_not_input, check_output_dir, check_output_file

if TYPE_CHECKING:
    from eiesim.network.workload import Workload
    from eiesim.run.multi_image import MultiImageResult
    from eiesim.run.result import SimulationResult

_DEFAULT_OUT = "\0default"
#: What ``run --out DIR`` writes (and ``eiesim report DIR`` may add); DIR is replaced as a whole.
RUN_DIR_FILES = ("report.json", "report.run.json", "layers.csv", "report.html", "report.md")


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "run"


@cli.command("run")
@click.argument("arch_path", metavar="[ARCH]", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.argument("workload_path", metavar="[WORKLOAD]", required=False,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--image", "images", multiple=True, metavar="NAME|PATH|DIR",
              help="Input image: a path, a bundled photo name (chelsea, coffee, ...), a .npy array of the input "
                   "shape, or a folder of images. Repeat for several images (one simulation each; the report adds "
                   "per-image results and mean/min/max). Default: the workload's own input, else chelsea.")
@click.option("--engine", type=click.Choice(["fast", "event"]), default="fast", show_default=True,
              help="fast = Numba kernels; event = SimPy (small layers only, slow).")
@click.option("--allow-slow", is_flag=True,
              help="Run the event engine even when its estimated time is above the limit (5 min per image).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override an architecture key (dotted for nested: spmat_sram.size_bytes=auto). Repeatable.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the JSON report (docs/report-schema.md) here.")
@click.option("--out", "out_dir", is_flag=False, flag_value=_DEFAULT_OUT, default=None, metavar="[DIR]",
              help="Write report.json and layers.csv to DIR (default reports/<workload>-<arch>/).")
@click.option("--no-check", is_flag=True, help="Skip the comparison with the functional fixed-point reference.")
def run_command(arch_path: Path | None, workload_path: Path | None, images: tuple[str, ...], engine: str,
                allow_slow: bool, overrides: tuple[str, ...], json_path: Path | None, out_dir: str | None,
                no_check: bool) -> None:
    """Simulate WORKLOAD (.npz or Deep-Compression .net) on ARCH (.yaml); defaults: the real DC SqueezeNet on eie-64pe-8bit.yaml.

    Defaults: the default architecture (eie-64pe-8bit.yaml: the published 64-PE chip with 8-bit
    codebook indices) and the bundled Deep-Compression SqueezeNet v1.0 of its authors, on the
    bundled photo chelsea."""
    from rich.console import Console

    from eiesim.cli.tables import out_console
    from eiesim.config.arch import load_arch
    from eiesim.inputs.images import expand_image_specs
    from eiesim.render.run_files import (
        images_layers_csv,
        layers_csv,
        metadata_path,
        report_dict,
        report_json,
        run_metadata,
        run_metadata_json,
    )
    from eiesim.render.run_tables import (
        breakdown_table,
        cost_table,
        energy_table,
        image_layers_table,
        images_table,
        layers_table,
        totals_table,
    )
    from eiesim.run.multi_image import simulate_images
    from eiesim.run.simulate import default_paths, estimate_event_layer_seconds
    from eiesim.timing.event_budget import DEFAULT_EVENT_LIMIT_S

    default_arch, default_workload = default_paths()
    arch_path = arch_path or default_arch
    workload_path = workload_path or default_workload
    for what, path in (("architecture", arch_path), ("workload", workload_path)):
        if os.path.lexists(path):
            require_regular_file(path, UsageError, f"{what} file")  # a FIFO or device: refused, never opened
        else:
            raise UsageError(f"{what} file not found" + (" (the default; is the installation complete?)"
                                                          if path in (default_arch, default_workload) else ""),
                             path)
    directory = None
    inputs: list[str | Path] = [arch_path, workload_path, *(str(i) for i in images if os.path.lexists(i))]
    if out_dir is not None:  # every output is checked before anything is loaded or simulated
        directory = Path(out_dir) if out_dir != _DEFAULT_OUT else (
            Path("reports") / f"{_safe_name(workload_path.stem)}-{_safe_name(arch_path.stem)}")
        check_output_dir(directory, RUN_DIR_FILES)
        check_dir_holds_no_input(directory, inputs, option="--out")
    if json_path is not None:  # also compared with the default ARCH / WORKLOAD, which are no parameters
        check_output_file(json_path)
        check_output_file(metadata_path(json_path))
        for target in (json_path, metadata_path(json_path)):
            check_not_input(target, inputs, option="--json")
    arch = load_arch(arch_path, list(overrides))
    workload = _load_network(workload_path)
    specs = expand_image_specs(list(images)) if images else [None]  # None: the one default input rule

    err = Console(stderr=True)
    limit = None if allow_slow else DEFAULT_EVENT_LIMIT_S
    layer_seconds: list[float] | None = None
    if engine == "event":
        layer_seconds = estimate_event_layer_seconds(arch, workload, specs[0])
        seconds = float(sum(layer_seconds))
        err.print(f"event engine: estimated {_describe(seconds)} per image ({len(specs)} image"
                  f"{'s' if len(specs) != 1 else ''}){'' if seconds <= DEFAULT_EVENT_LIMIT_S or allow_slow else ''}",
                  highlight=False)
    progress_cb = None
    bar = None
    if sys.stderr.isatty():
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        pct = "{task.percentage:>5.1f} %" if layer_seconds else "{task.percentage:>3.0f} %"
        bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(pct),
                       TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True)
        task = bar.add_task(f"simulating {workload.name}", total=len(workload.layers) * len(specs))
        share = _layer_shares(layer_seconds, len(workload.layers))

        def progress_cb(done: float, total: int, name: str) -> None:
            bar.update(task, completed=share(done), description=f"{name}")
    t0 = time.perf_counter()
    try:
        if bar is not None:
            bar.start()
        multi = simulate_images(arch, workload, specs, engine=engine, check=not no_check, event_limit_s=limit,
                                progress=progress_cb)
    except ArchError as exc:
        if exc.source is None:
            raise ArchError(exc.message, arch_path) from None
        raise
    finally:
        if bar is not None:
            bar.stop()

    result = multi.first
    report: SimulationResult | MultiImageResult = multi if len(multi.results) > 1 else result
    root = click.get_current_context().find_root()
    meta = run_metadata(multi, time.perf_counter() - t0, (root.obj or {}).get("argv"))
    out = out_console()
    if len(multi.results) > 1:
        out.print(images_table(multi))
        out.print(image_layers_table(multi))
        out.print(f"per-layer details of every image: --json / --out (report.json 'images', layers.csv); "
                  f"the tables below are the first image, {multi.labels[0]}", highlight=False)
    out.print(layers_table(result))
    for table in (breakdown_table(result), energy_table(result), totals_table(result), cost_table(result)):
        if table is not None:
            out.print(table)
    for text in multi.warnings:
        sys.stderr.write(f"eiesim: warning: {' '.join(text.split())}\n")
    # All outputs are committed together: written to temporaries first, then renamed in one step.
    outputs = OutputSet()
    if json_path is not None or directory is not None:
        body, meta_text = report_json(report), run_metadata_json(meta)
    if json_path is not None:
        outputs.add_file(json_path, body)
        outputs.add_file(metadata_path(json_path), meta_text)
    if directory is not None:
        from eiesim.render import render_run  # the report page: imported only when one is written

        csv_text = images_layers_csv(multi) if len(multi.results) > 1 else layers_csv(result)
        outputs.add_dir(directory, {
            "report.json": body, "report.run.json": meta_text, "layers.csv": csv_text,
            "report.html": render_run({**report_dict(report), "engine": result.engine}, "html")})
    outputs.commit()
    if json_path is not None:
        out.print(f"wrote {json_path} (run metadata: {metadata_path(json_path)})")
    if directory is not None:
        out.print(f"wrote report.json, report.run.json, layers.csv and report.html to {directory}")
    failed = [(label, r.check) for label, r in zip(multi.labels, multi.results)
              if r.check and r.check["functional"] != "pass"]
    if failed:
        label, chk = failed[0]
        raise click.ClickException(f"functional check failed ({label}): layers {chk['layers_mismatched']} differ "
                                   "from the fixed-point reference")


def _load_network(path: Path) -> Workload:
    """A workload file, or a Deep-Compression ``.net`` file decoded with the built-in SqueezeNet v1.0 topology."""
    if path.suffix.lower() == ".net":
        from eiesim.importers.caffe.deep_compression import import_dc

        return import_dc(path)
    from eiesim.network.workload_file import load_workload

    return load_workload(path)


def _describe(seconds: float) -> str:
    from eiesim.timing.event_budget import describe

    return describe(seconds)


def _layer_shares(layer_seconds: list[float] | None, n_layers: int) -> Callable[[float], float]:
    """Map progress in layers (fractional, over all images) to the bar's scale of ``n_layers`` per image.

    With the event engine's per-layer estimates, a layer advances the bar by its share of the
    estimated time (conv1 is 40 % of SqueezeNet's work, not 1/26); otherwise every layer counts one.
    """
    total = float(sum(layer_seconds)) if layer_seconds else 0.0
    if not layer_seconds or total <= 0:
        return lambda done: done
    cumulative = [0.0]
    for sec in layer_seconds:
        cumulative.append(cumulative[-1] + sec / total * n_layers)

    def share(done: float) -> float:
        image, within = divmod(done, n_layers)
        i = min(int(within), n_layers - 1)
        frac = within - i
        return image * n_layers + cumulative[i] + frac * (cumulative[i + 1] - cumulative[i])
    return share
