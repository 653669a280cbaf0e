"""``eiesim reproduce``: regenerate the EIE paper's tables with eiesim.

Subcommands are discovered: every module of the package ``eiesim.reproduce``
that defines a click command named ``command`` is added to the group.
"""

from __future__ import annotations

import importlib
import pkgutil

import click

import eiesim.reproduce
from eiesim.cli import cli


@cli.group("reproduce")
def reproduce() -> None:
    """Reproduce results of the EIE paper (Han et al., ISCA 2016)."""


def _discover() -> None:
    for info in sorted(pkgutil.iter_modules(eiesim.reproduce.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"eiesim.reproduce.{info.name}")
        command = getattr(module, "command", None)
        if isinstance(command, click.Command):
            reproduce.add_command(command)


_discover()
