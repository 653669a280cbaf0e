"""Every output path of every command is checked before the command does any work.

Commands declare their outputs as options named ``output`` (``-o``), ``json_path``
(``--json PATH``) or ``out_dir`` (``--out DIR``) with a ``click.Path`` type. After all
commands are registered, :func:`guard_outputs` gives each such option a type that runs
the preflight check of ``eiesim.outputs.paths`` while click parses the command line: a path
that is a directory where a file is wanted (or a file where a directory is wanted), lies
under a file, or sits on a read-only or full file system is one ``eiesim: error:``
line before anything is loaded or simulated. Commands with a computed default output
(``run --out``, ``trace``, ``report``) call the same checks on that default themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from eiesim.outputs.paths import check_output_dir, check_output_file

#: Option names that hold an output path.
OUTPUT_OPTION_NAMES = ("output", "json_path", "out_dir")


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
            check_output_dir(Path(path))
        else:
            check_output_file(Path(path))
        return path

    def to_info_dict(self) -> dict[str, Any]:
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


def guard_outputs(group: click.Group) -> None:
    """Give every output option of every command the checked type (idempotent)."""
    for command in all_commands(group).values():
        for option in output_options(command):
            if isinstance(option.type, click.Path):
                option.type = CheckedOutput(option.type)


__all__ = ["CheckedOutput", "OUTPUT_OPTION_NAMES", "all_commands", "guard_outputs", "output_options"]
