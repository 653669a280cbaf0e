"""``eiesim reproduce``: regenerate the EIE paper's tables with eiesim.

One module per subcommand renders one study of ``eiesim.reproduce`` (which computes
and never prints). Each command runs with ``eiesim.cli.tables.reproduce_console``
active, so its rich tables fold to the terminal width (80 columns when piped) instead
of being cut.
"""

from __future__ import annotations

import functools

import click

from eiesim.cli.group import cli
from eiesim.cli.reproduce import energy, figures, neuraltalk, squeezenet_mapping, squeezenet_winograd, table2, table4
from eiesim.cli.tables import reproduce_console

#: The subcommands, in the order ``eiesim reproduce --help`` lists them (click sorts by name).
COMMANDS = (energy.command, figures.command, neuraltalk.command, squeezenet_mapping.command, squeezenet_winograd.command,
            table2.command,
            table4.command)


@cli.group("reproduce")
def reproduce() -> None:
    """Reproduce results of the EIE paper (Han et al., ISCA 2016)."""


def _with_folding_tables(callback):  # noqa: ANN001, ANN202 - a click callback
    @functools.wraps(callback)
    def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        with reproduce_console():
            return callback(*args, **kwargs)

    return run


for _command in COMMANDS:
    _command.callback = _with_folding_tables(_command.callback)
    reproduce.add_command(_command)
