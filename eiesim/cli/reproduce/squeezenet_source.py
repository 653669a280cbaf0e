"""The SqueezeNet a study command runs: its --model / --synthetic options checked, the workload chosen."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from eiesim.outputs.paths import check_output_dir

if TYPE_CHECKING:
    from rich.console import Console

    from eiesim.reproduce.squeezenet_mapping import StudyWorkload


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
