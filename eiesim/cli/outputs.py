"""Every output path of every command is checked before the command does any work.

Commands declare their outputs as options named ``output`` (``-o``), ``json_path``
(``--json PATH``) or ``out_dir`` (``--out DIR``) with a ``click.Path`` type. After all
commands are registered, :func:`guard_outputs` gives each such option a type that runs
the preflight check of ``eiesim.outputs.paths`` while click parses the command line: a path
that is a directory where a file is wanted (or a file where a directory is wanted), lies
under a file, or sits on a read-only or full file system is one ``eiesim: error:``
line before anything is loaded or simulated. An existing output path must be a regular file
(or a symlink to one) or a directory: device nodes, FIFOs, sockets and ``-`` are refused
(rules: ``eiesim.outputs.paths``).

:func:`guard_outputs` also wraps each such command's callback in :func:`refuse_inputs_as_outputs`:
once click has parsed everything, an output that is one of the command's inputs (any other
argument or option naming an existing path: same path, same file through a link, a hard link)
or an output directory that holds one is refused, before the command starts. Commands with a
computed default output (``run --out``, ``run``'s ``.run.json``, ``trace``, ``report``) call
the same checks on that default themselves.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eiesim.outputs.paths import check_dir_holds_no_input, check_not_input, check_output_dir, check_output_file

if TYPE_CHECKING:
    from click.types import ParamTypeInfoDict

#: Option names that hold an output path.
OUTPUT_OPTION_NAMES = ("output", "json_path", "out_dir")
#: Commands whose output directory is added to, not replaced as a whole (a sweep's point store):
#: an input inside it is not at risk, so only their output files are compared with the inputs.
DIRS_ADDED_TO = frozenset({"sweep"})


class CheckedOutput(click.ParamType):
    """Wraps a ``click.Path`` type: converts as it does, then checks the path can be written."""

    def __init__(self, inner: click.Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.is_dir = not inner.file_okay and inner.dir_okay

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None:
            return None
        path = self.inner.convert(value, param, ctx)
        if self.is_dir:
            check_output_dir(Path(os.fsdecode(path)))
        else:
            check_output_file(Path(os.fsdecode(path)))
        return path

    def to_info_dict(self) -> ParamTypeInfoDict:
        return self.inner.to_info_dict()

    def get_metavar(self, param: click.Parameter, *args: Any, **kwargs: Any) -> str | None:
        # click >= 8.2 passes ``ctx`` by keyword (``--help`` of every command with an output option).
        return self.inner.get_metavar(param, *args, **kwargs)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        return self.inner.shell_complete(ctx, param, incomplete)


def output_options(command: click.Command) -> list[click.Option]:
    """The options of ``command`` that name an output path."""
    return [p for p in command.params if isinstance(p, click.Option) and p.name in OUTPUT_OPTION_NAMES
            and not p.is_flag and isinstance(p.type, click.Path | CheckedOutput)]


def all_commands(group: click.Command, prefix: str = "") -> dict[str, click.Command]:
    """Every leaf command under ``group`` by its full name ('run', 'reproduce eie-table4', ...)."""
    if not isinstance(group, click.Group):
        return {prefix.strip(): group}
    out: dict[str, click.Command] = {}
    for name, sub in group.commands.items():
        out.update(all_commands(sub, f"{prefix} {name}"))
    return out


def _paths_in(value: Any) -> Iterable[str | Path]:
    """The existing paths a parameter value names (a str or Path, or a tuple/list of them)."""
    items = value if isinstance(value, tuple | list) else (value,)
    for item in items:
        if isinstance(item, str | Path) and str(item) not in ("", "-"):
            try:
                if os.path.lexists(item):
                    yield item
            except (OSError, ValueError):
                continue


def command_inputs(command: click.Command, params: dict[str, Any]) -> list[str | Path]:
    """Every existing path that a parameter other than the output options names: the command's inputs."""
    outputs = {o.name for o in output_options(command)}
    found: list[str | Path] = []
    for name, value in params.items():
        if name not in outputs:
            found.extend(_paths_in(value))
    return found


def refuse_inputs_as_outputs(command: click.Command, params: dict[str, Any]) -> None:
    """OutputError if an output option of ``command`` names one of its inputs (see the module docstring)."""
    inputs = command_inputs(command, params)
    if not inputs:
        return
    for option in output_options(command):
        value = params.get(option.name)
        if value is None:
            continue
        label = max(option.opts, key=len)
        if isinstance(option.type, CheckedOutput) and option.type.is_dir:
            if command.name not in DIRS_ADDED_TO:
                check_dir_holds_no_input(value, inputs, option=label)
        else:
            check_not_input(value, inputs, option=label)


def _guarded(command: click.Command, callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        refuse_inputs_as_outputs(command, kwargs)
        return callback(*args, **kwargs)

    run.__eiesim_guarded__ = True  # type: ignore[attr-defined]
    return run


def guard_outputs(group: click.Group) -> None:
    """Give every output option of every command the checked type, and its callback the
    inputs-are-not-outputs check (idempotent)."""
    for command in all_commands(group).values():
        options = output_options(command)
        for option in options:
            if isinstance(option.type, click.Path):
                option.type = CheckedOutput(option.type)
        callback = command.callback
        if options and callback is not None and not getattr(callback, "__eiesim_guarded__", False):
            command.callback = _guarded(command, callback)


__all__ = ["CheckedOutput", "DIRS_ADDED_TO", "OUTPUT_OPTION_NAMES", "all_commands", "command_inputs", "guard_outputs", "output_options",
           "refuse_inputs_as_outputs"]
