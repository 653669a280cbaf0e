"""The ``eiesim`` command line: the only part of eiesim that reads argv and prints.

Each command lives in its own module under ``eiesim.cli`` and registers itself on
the ``cli`` group. Every user error (``EiesimError`` or a bad command-line value)
becomes one line on stderr, ``eiesim: error: <file>: <problem>``, and exit
code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

import click

from eiesim.errors import EiesimError

#: Modules that define commands (imported for their side effect of registering).
COMMAND_MODULES = (
    "eiesim.cli.workload_cmds",
    "eiesim.cli.compress_cmd",
    "eiesim.cli.infer_cmd",
    "eiesim.cli.run_cmd",
    "eiesim.cli.reproduce_cmd",
    "eiesim.cli.onnx_cmds",
    "eiesim.cli.arch_cmd",
    "eiesim.cli.sweep_cmd",
    "eiesim.cli.report_cmd",
    "eiesim.cli.trace_cmd",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.version_option(package_name="eiesim")
def cli(debug: bool) -> None:
    """eiesim: cycle-approximate simulator of the EIE sparse inference accelerator."""


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


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


def _on_signal(signum: int, frame) -> None:  # noqa: ANN001 - signal handler signature
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    _register()
    args = _debug_first(list(sys.argv[1:] if argv is None else argv))
    debug = args[:1] == ["--debug"] or os.environ.get("EIESIM_DEBUG") == "1"
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        cli.main(args=args, prog_name="eiesim", standalone_mode=False, obj={"argv": ["eiesim", *args]})
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.stderr.write("eiesim: interrupted; no output was written\n")
        sys.exit(130)
    except click.ClickException as exc:
        if debug:
            raise
        _fail(exc.format_message())
    except EiesimError as exc:
        if debug:
            raise
        _fail(exc.one_line())
    except KeyboardInterrupt:
        sys.stderr.write("eiesim: interrupted; no output was written\n")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
