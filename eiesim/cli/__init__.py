"""cli: the ``eiesim`` command line, the only part of eiesim that reads argv and prints.

Each command lives in its own module under ``eiesim.cli`` and registers itself on
the ``cli`` group (``eiesim.cli.group``). Every user error (``EiesimError`` or a bad
command-line value) becomes one line on stderr, ``eiesim: error: <file>: <problem>``, and
exit code 2; ``--debug`` shows the traceback instead.
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

#: ``typing.TYPE_CHECKING`` without importing typing (``eiesim --version`` imports neither it nor click);
#: type checkers treat a name ``TYPE_CHECKING`` as true whatever its origin.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from eiesim.cli.group import COMMANDS, cli, load_command


def __getattr__(name: str) -> object:
    """``cli``, ``COMMANDS`` and ``load_command`` (``eiesim.cli.group``), imported on first use:
    ``eiesim --version`` answers without importing click (see ``_main``)."""
    if name in ("cli", "COMMANDS", "load_command"):
        from eiesim.cli import group

        return getattr(group, name)
    raise AttributeError(f"module 'eiesim.cli' has no attribute {name!r}")


def _register() -> None:
    """Import every command module (tests and tools that walk the whole command tree); ``eiesim``
    itself imports a command's module only when the command is used (eiesim.cli.group)."""
    from eiesim.cli.group import COMMANDS, load_command

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
    from eiesim.outputs.commit import committed_outputs

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
    if args == ["--version"]:
        # click's own answer (``click.version_option`` on ``cli``, message "%(prog)s, version %(version)s"),
        # without importing click: a test holds the two to the same bytes.
        from eiesim.version import __version__

        try:
            sys.stdout.write(f"eiesim, version {__version__}\n")
            sys.stdout.flush()
        except BrokenPipeError:  # the reader is gone (``eiesim --version | true``): quiet, as the click path is
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the interpreter's last flush too
            sys.exit(1)
        sys.exit(0)
    import click

    from eiesim.cli.group import cli
    from eiesim.errors import EiesimError

    debug = args[:1] == ["--debug"] or os.environ.get("EIESIM_DEBUG") == "1"
    commit = sys.modules.get("eiesim.outputs.commit")  # not imported yet: nothing was written, nothing to forget
    if commit is not None:
        commit.reset_committed_outputs()
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
        from eiesim.outputs.paths import os_problem

        problem = os_problem(exc)
        if not exc.filename and (not exc.errno or problem.lower() == "error"):
            problem = f"an operating-system call failed ({exc.__class__.__name__}: {' '.join(str(exc).split())})"
        _fail(f"{where}{problem}")
