"""The ``eiesim`` click group: every command module registers its commands on :data:`cli`."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.version_option(package_name="eiesim")
def cli(debug: bool) -> None:
    """eiesim: cycle-approximate simulator of the EIE sparse inference accelerator."""
