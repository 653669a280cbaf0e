"""The SqueezeNet a study command runs: its --model / --synthetic / --json options, checked, the workload chosen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eiesim.outputs.paths import check_output_dir

if TYPE_CHECKING:
    from rich.console import Console

    from eiesim.reproduce.squeezenet_mapping import StudyWorkload


def source_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every SqueezeNet study command takes, in this order: --model, --synthetic, --json."""
    options = [
        click.option("--model", "model", type=click.Path(dir_okay=False, path_type=Path),
                     help="The Deep-Compression SqueezeNet: its .net file, or a workload .npz from `eiesim import-dc` "
                          "(default: the real one that ships with eiesim, the default network of `eiesim run`)."),
        click.option("--synthetic", is_flag=True, help="Run the bundled synthetic SqueezeNet instead of the real one."),
        click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
                     help="Also write the results as JSON to this file."),
    ]
    for option in reversed(options):  # click lists a command's options in the order its decorators are written
        command = option(command)
    return command


def study_source(model: Path | None, synthetic: bool, out_dir: Path | None,
                 out_files: tuple[str, ...]) -> tuple[StudyWorkload, Console]:
    """Check the options and the output folder before any work, load the network, and say which on stderr.

    Returns the study's workload and the stderr console its progress goes to.
    """
    from rich.console import Console

    from eiesim.errors import UsageError
    from eiesim.reproduce.squeezenet_mapping import study_workload

    if model is not None and synthetic:
        raise UsageError("give --model or --synthetic, not both")
    if model is not None and not model.is_file():
        raise UsageError("SqueezeNet model file not found", model)
    if out_dir is not None:
        check_output_dir(out_dir, out_files)
    source = study_workload(model, synthetic)
    err = Console(stderr=True, log_path=False)
    err.print(f"workload: {source.label}", highlight=False)
    return source, err


def finish_study(study: dict[str, Any], warnings: set[str], json_path: Path | None, out_dir: Path | None,
                 to_json: Callable[[dict[str, Any]], str], to_files: Callable[[dict[str, Any]], dict[str, Any]],
                 out_description: str, console: Console, err: Console) -> None:
    """The end every SqueezeNet study shares: its runs' warnings on stderr, then its --json file and --out folder
    written as one set (both or neither, the folder replaced as a whole; each made only when asked for), then
    what was written."""
    from eiesim.outputs.commit import OutputSet

    for text in sorted(warnings):
        err.print(f"eiesim: warning: {' '.join(text.split())}", highlight=False)
    outputs = OutputSet()
    if json_path is not None:
        outputs.add_file(json_path, to_json(study))
    if out_dir is not None:
        outputs.add_dir(out_dir, to_files(study))
    outputs.commit()
    if json_path is not None:
        console.print(f"wrote {json_path}", highlight=False)
    if out_dir is not None:
        console.print(f"wrote {out_description} to {out_dir}", highlight=False)
