"""The ``eiesim`` command line: the only part of eiesim that reads argv and prints.

Each command lives in its own module under ``eiesim.cli`` and registers itself on
the ``cli`` group. The group imports a command's module only when that command runs
(or its ``--help`` is asked for): ``eiesim --help`` lists every command from the
one-line helps kept in ``COMMANDS``, so ``eiesim --version`` and ``--help`` start without
numba, scipy or matplotlib (issue 27). Every user error (``EiesimError`` or a bad command-line value)
becomes one line on stderr, ``eiesim: error: <file>: <problem>``, and exit
code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
import signal
import sys


def _interrupted_while_starting(signum: int, frame) -> None:  # noqa: ANN001 - signal handler signature
    """Ctrl-C (or SIGTERM) while the command is still importing: nothing can have been written."""
    os.write(2, b"eiesim: interrupted; no output was written\n")
    os._exit(130)


def _started_as_command() -> bool:
    """True in the ``eiesim`` console script and ``python -m eiesim`` (not when a program imports us)."""
    argv0 = os.path.basename(sys.argv[0]) if sys.argv else ""
    return argv0 in ("eiesim", "eiesim.exe") or (
        argv0 == "__main__.py" and os.path.basename(os.path.dirname(sys.argv[0])) == "eiesim")


# Installed before the heavy imports below so that an early Ctrl-C is one line, not a traceback
# (main() installs handlers that raise _Interrupted once it can turn an interrupt into a message).
if _started_as_command():
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted_while_starting)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupted_while_starting)

import importlib  # noqa: E402

import click  # noqa: E402

from eiesim import __version__  # noqa: E402
from eiesim.errors import EiesimError  # noqa: E402

#: Command name -> (the modules that define it, the first paragraph of its help).
#: The modules are imported for their side effect of registering on ``cli``, only when the
#: command is used; a test checks each help line against the command's own docstring.
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
            "Simulate WORKLOAD (.npz) on ARCH (.yaml); defaults: eie-64pe-8bit.yaml and the bundled SqueezeNet."),
    "sweep": (("eiesim.cli.sweep_cmd",),
              "Simulate every combination of the --set values; finished points survive interruption."),
    "trace": (("eiesim.cli.trace_cmd",),
              "Write a trace of one layer, viewable in ui.perfetto.dev or chrome://tracing (1 us = 1 cycle)."),
    "workload": (("eiesim.cli.workload_cmds",), "Make a deterministic synthetic workload (see --list)."),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module the first time the command is looked up.

    ``list_commands`` names every command of ``COMMANDS`` without importing anything; the
    top-level help's command list is written from the help lines kept there.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
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
        importlib.import_module(module)
    guard_outputs(cli)


def _register() -> None:
    """Import every command (tests and tools that walk the whole command tree)."""
    for name in COMMANDS:
        load_command(name)


def _debug_first(args: list[str]) -> list[str]:
    """``--debug`` may stand anywhere before a ``--``: it is moved in front of the command.

    ``eiesim run x.yaml --debug`` used to fail inside click ("No such option") and, since
    the word was on the line, print that failure as a traceback.
    """
    end = args.index("--") if "--" in args else len(args)
    if "--debug" not in args[:end]:
        return args
    return ["--debug"] + [a for a in args[:end] if a != "--debug"] + args[end:]


def _fail(message: str) -> None:
    sys.stderr.write(f"eiesim: error: {' '.join(message.split())}\n")
    sys.exit(2)


class _Interrupted(BaseException):
    """SIGINT or SIGTERM while a command runs. Not a KeyboardInterrupt: click answers those by
    printing an empty line before eiesim's one-line message."""


def _on_signal(signum: int, frame) -> None:  # noqa: ANN001 - signal handler signature
    raise _Interrupted


def _interrupted() -> None:
    """Say truthfully what an interrupted command kept (outputs are written whole or not at all)."""
    from eiesim.atomic import committed_outputs

    kept = committed_outputs()
    if kept:
        sys.stderr.write(f"eiesim: interrupted; kept the complete outputs written before: {', '.join(map(str, kept))}\n")
    else:
        sys.stderr.write("eiesim: interrupted; no output was written\n")
    sys.exit(130)


def main(argv: list[str] | None = None) -> None:
    """Console entry point (also called in-process by tests and scripts: the caller's signal
    handlers are put back afterwards)."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _main(argv)
    finally:
        for sig, handler in handlers.items():
            if handler is not None:
                signal.signal(sig, handler)


def _main(argv: list[str] | None) -> None:
    args = _debug_first(list(sys.argv[1:] if argv is None else argv))
    debug = args[:1] == ["--debug"] or os.environ.get("EIESIM_DEBUG") == "1"
    atomic = sys.modules.get("eiesim.atomic")  # not imported yet: nothing was written, nothing to forget
    if atomic is not None:
        atomic.reset_committed_outputs()
    # The command's module is imported when click looks the command up (LazyGroup), under the
    # handlers below: an interrupt while it imports is one line too.
    try:
        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        cli.main(args=args, prog_name="eiesim", standalone_mode=False, obj={"argv": ["eiesim", *args]})
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt, _Interrupted):
        _interrupted()
    except click.ClickException as exc:
        if debug:
            raise
        _fail(exc.format_message())
    except EiesimError as exc:
        if debug:
            raise
        _fail(exc.one_line())
    except BrokenPipeError:
        sys.exit(0)
    except MemoryError:
        if debug:
            raise
        _fail("out of memory: the input needs more memory than this machine has free; eiesim refuses inputs whose "
              "declared sizes exceed EIESIM_MEMORY_LIMIT (default 4G) before allocating, so this one was "
              "underestimated: lower EIESIM_MEMORY_LIMIT or use a smaller input")
    except RecursionError:
        if debug:
            raise
        _fail("an input is nested too deeply to process")
    except OSError as exc:  # an OS error the output checks did not foresee (e.g. the disk filled up meanwhile)
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        from eiesim.atomic import os_problem

        problem = os_problem(exc)
        if not exc.filename and (not exc.errno or problem.lower() == "error"):
            problem = f"an operating-system call failed ({exc.__class__.__name__}: {' '.join(str(exc).split())})"
        _fail(f"{where}{problem}")
