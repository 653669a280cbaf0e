"""One exception family for everything a user can get wrong.

Library code raises these; only the CLI turns them into the one-line
``eiesim: error: <file>: <problem>`` message and exit code 2. Nothing in the
library prints or exits.
"""

from __future__ import annotations

#: ``typing.TYPE_CHECKING`` without importing typing (the CLI imports this module on every start).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


class EiesimError(Exception):
    """Base class: a problem with the user's input, reported without a traceback."""

    def __init__(self, message: str, source: str | Path | None = None) -> None:
        self.message = message
        self.source = str(source) if source is not None else None
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message as the CLI prints it after ``eiesim: error: ``."""
        text = " ".join(self.message.split())
        return f"{self.source}: {text}" if self.source else text


class WorkloadError(EiesimError):
    """A workload file (.npz) is malformed or inconsistent."""


class ModelFileError(EiesimError):
    """A model file (.net, .prototxt, .onnx) cannot be decoded."""


class ArchError(EiesimError):
    """An architecture configuration is invalid."""


class UsageError(EiesimError):
    """A command-line value or API argument is invalid."""


class InputDataError(EiesimError):
    """An input tensor or image cannot be used."""


class CostModelError(EiesimError):
    """A cost model cannot price what a run did (e.g. it lists no energy for a layer's pixel-group count)."""


class OutputError(EiesimError):
    """An output path cannot be written (a file where a directory is needed, read-only, full disk, ...)."""


class SweepError(EiesimError):
    """Some points of a sweep failed; the others are stored and a rerun retries only the failed ones."""
