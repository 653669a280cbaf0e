"""``eiesim reproduce``: regenerate the EIE paper's tables with eiesim.

Subcommands are discovered: every module of the package ``eiesim.reproduce``
that defines a click command named ``command`` is added to the group. Each runs with
``eiesim.cli.tables.reproduce_console`` active, so its rich tables fold to the
terminal width (80 columns when piped) instead of being cut.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

import click

import eiesim.reproduce
from eiesim.cli import cli
from eiesim.cli.tables import reproduce_console


@cli.group("reproduce")
def reproduce() -> None:
    """Reproduce results of the EIE paper (Han et al., ISCA 2016)."""


def _discover() -> None:
    for info in sorted(pkgutil.iter_modules(eiesim.reproduce.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"eiesim.reproduce.{info.name}")
        command = getattr(module, "command", None)
        if isinstance(command, click.Command):
            if command.callback is not None and not getattr(command.callback, "_eiesim_folding", False):
                command.callback = _with_folding_tables(command.callback)
            reproduce.add_command(command)


def _with_folding_tables(callback):  # noqa: ANN001, ANN202 - a click callback
    @functools.wraps(callback)
    def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        with reproduce_console():
            return callback(*args, **kwargs)

    run._eiesim_folding = True  # type: ignore[attr-defined]
    return run


_discover()
