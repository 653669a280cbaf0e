"""The ``eiesim`` click group: every command module registers its commands on :data:`cli`.

The group imports a command's module only when that command runs (or its ``--help`` is
asked for): ``eiesim --help`` lists every command from the first paragraph of its help
kept in :data:`COMMANDS`, so ``eiesim --version`` and ``--help`` start without numba,
scipy or matplotlib (issue 27). A test holds :data:`COMMANDS` to the commands' own help.
"""

from __future__ import annotations

import importlib

import click

from eiesim.version import __version__

#: Command name -> (the modules that define it, the first paragraph of its help). The modules
#: are imported for their side effect of registering on ``cli``, only when the command is used.
#: ``compress`` also needs ``onnx_cmds``, which adds the ``.onnx`` dense-model reader.
COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "compress": (("eiesim.cli.compress_cmd", "eiesim.cli.onnx_cmds"),
                 "Prune a dense model, share weights with k-means, and report its storage."),
    "export-dense": (("eiesim.cli.workload_cmds",),
                     "Decode a workload to dense float32 weights (the input format of `eiesim compress`)."),
    "export-onnx": (("eiesim.cli.onnx_cmds",),
                    "Write WORKLOAD's decoded (dense, shared-weight) network as an ONNX model."),
    "import-dc": (("eiesim.cli.workload_cmds",),
                  "Decode a Deep-Compression .net file (e.g. compressed_SqueezeNet.net) into a workload."),
    "import-onnx": (("eiesim.cli.onnx_cmds",),
                    "Read an ONNX MODEL into eiesim's dense model format (input of eiesim compress)."),
    "infer": (("eiesim.cli.infer_cmd",),
              "Run WORKLOAD (.npz) on one input: top-5 classes and per-layer activation densities."),
    "info": (("eiesim.cli.workload_cmds",),
             "Show a workload's layers: shapes, non-zeros, density, codebook bits, storage."),
    "params": (("eiesim.cli.arch_cmd",), "List every architecture parameter: key, unit, default, description."),
    "report": (("eiesim.cli.report_cmd",),
               "Render SOURCE (a run's report.json, or a sweep directory) with tables and embedded plots."),
    "reproduce": (("eiesim.cli.reproduce",), "Reproduce results of the EIE paper (Han et al., ISCA 2016)."),
    "run": (("eiesim.cli.run_cmd",),
            "Simulate WORKLOAD (.npz or Deep-Compression .net) on ARCH (.yaml); defaults: the real DC SqueezeNet on "
            "eie-64pe-8bit.yaml."),
    "sweep": (("eiesim.cli.sweep_cmd",),
              "Simulate every combination of the --set values; finished points survive interruption."),
    "trace": (("eiesim.cli.trace_cmd",),
              "Write a trace of one layer, viewable in ui.perfetto.dev or chrome://tracing (1 us = 1 cycle)."),
    "workload": (("eiesim.cli.workload_cmds",), "Make a deterministic synthetic workload (see --list)."),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module the first time the command is looked up.

    ``list_commands`` names every command of ``COMMANDS`` without importing anything; the
    top-level help's command list is written from the help kept there.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            # Also when the command's module was imported before (e.g. by a script importing
            # eiesim.cli.reproduce): its output options get their checks here either way.
            load_command(cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``eiesim --help``, without importing the command modules."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name) or click.Command(name, help=COMMANDS[name][1])
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.version_option(version=__version__)  # the version the package metadata is made from (pyproject)
def cli(debug: bool) -> None:
    """eiesim: cycle-approximate simulator of the EIE sparse inference accelerator."""


def load_command(name: str) -> None:
    """Import the modules that define command ``name`` and give its output options their checks."""
    from eiesim.cli.outputs import guard_outputs

    for module in COMMANDS[name][0]:
        importlib.import_module(module)  # a no-op for a module imported before
    guard_outputs(cli)  # idempotent
