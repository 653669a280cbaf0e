"""The CLI wrapper: help, version, one-line errors, docs generated from declarations."""

import importlib.metadata
import subprocess
import sys
from pathlib import Path

from eiesim.cli.arch_cmd import parameters_markdown

ROOT = Path(__file__).resolve().parents[1]


def _eiesim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eiesim", *args], capture_output=True, text=True, cwd=ROOT)


def test_help_lists_every_command():
    out = _eiesim("--help")
    assert out.returncode == 0
    for command in ("run", "info", "import-dc", "workload", "compress", "infer", "sweep", "reproduce", "params"):
        assert f"  {command} " in out.stdout, command


def test_help_lists_every_registered_command_with_its_own_help(monkeypatch):
    """``eiesim --help`` names every command with the first line of the command's own help, though
    it imports no command module: the lazily kept help lines must not drift from the docstrings."""
    import os

    import click

    from eiesim.cli import COMMANDS, _register, cli

    monkeypatch.setenv("COLUMNS", "120")  # the same terminal width here and in the subprocess
    out = subprocess.run([sys.executable, "-m", "eiesim", "--help"], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ))
    assert out.returncode == 0
    _register()
    assert sorted(cli.commands) == sorted(COMMANDS)  # no command is missing from the lazy table, none extra
    listed = {line.split()[0]: " ".join(line.split()[1:]) for line in
              out.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert sorted(listed) == sorted(COMMANDS)
    limit = click.HelpFormatter(max_width=100).width - 6 - max(map(len, COMMANDS))  # as click's Group computes it
    for name, command in cli.commands.items():
        own = command.get_short_help_str(limit)
        assert listed[name] == " ".join(own.split()), name
        assert click.Command(name, help=COMMANDS[name][1]).get_short_help_str(500) == command.get_short_help_str(500)


def test_importing_the_cli_imports_no_heavy_library():
    """``import eiesim.cli`` and ``eiesim --help`` / ``--version`` stay light: no numba, scipy, matplotlib,
    simpy, numpy or rich until a command that uses them runs (checked in a fresh interpreter)."""
    heavy = ("numba", "scipy", "matplotlib", "simpy", "numpy", "rich", "dask", "pandas", "onnx")
    probe = ("import sys, runpy\n"
             "sys.argv = ['eiesim', {arg!r}]\n"
             "try:\n"
             "    runpy.run_module('eiesim', run_name='__main__')\n"
             "except SystemExit:\n"
             "    pass\n"
             "print('LOADED', sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))\n")
    plain = subprocess.run([sys.executable, "-c", "import sys, eiesim.cli; "
                            f"print('LOADED', sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))"],
                           capture_output=True, text=True, cwd=ROOT)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip().splitlines()[-1] == "LOADED []"
    for arg in ("--help", "--version"):
        out = subprocess.run([sys.executable, "-c", probe.format(arg=arg, heavy=heavy)],
                             capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().splitlines()[-1] == "LOADED []", arg
    # --version answers before click (and typing) are imported
    out = subprocess.run([sys.executable, "-c", probe.format(arg="--version", heavy=("click", "typing", "pathlib"))],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "LOADED []"


def test_version_without_click_is_clicks_answer():
    """``eiesim --version`` answers without importing click: byte for byte what click's version option
    on the group prints, and the version of the installed package's metadata; exit code 0."""
    from click.testing import CliRunner

    from eiesim.cli import cli

    by_click = CliRunner().invoke(cli, ["--version"], prog_name="eiesim")
    assert by_click.exit_code == 0
    fast = subprocess.run([sys.executable, "-m", "eiesim", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert fast.returncode == 0 and fast.stderr == ""
    assert fast.stdout == by_click.output
    assert fast.stdout == f"eiesim, version {importlib.metadata.version('eiesim')}\n"  # the installed metadata


def test_a_command_imports_its_module_only_when_used():
    """Looking up one command loads its module (with its output checks), not the others'."""
    probe = ("import sys\n"
             "from eiesim.cli import cli\n"
             "from eiesim.cli.outputs import CheckedOutput\n"
             "import click\n"
             "cmd = cli.get_command(click.Context(cli), 'info')\n"
             "assert cmd is not None and cmd.name == 'info'\n"
             "run = cli.get_command(click.Context(cli), 'run')\n"
             "print(sorted(m for m in sys.modules if m.startswith('eiesim.cli.') and m.endswith(('_cmd', '_cmds'))))\n"
             "print(all(isinstance(p.type, CheckedOutput) for p in run.params if p.name == 'json_path'))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    loaded, guarded = out.stdout.strip().splitlines()
    assert loaded == "['eiesim.cli.run_cmd', 'eiesim.cli.workload_cmds']"
    assert guarded == "True"


def test_unknown_command_is_one_line_exit_2():
    out = _eiesim("frobnicate")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == ["eiesim: error: No such command 'frobnicate'."]


def test_debug_flag_shows_traceback(tmp_path):
    missing = tmp_path / "missing.yaml"
    quiet = _eiesim("run", str(missing), str(missing))
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    loud = _eiesim("--debug", "params", "--markdown", "--nope")
    assert loud.returncode != 0


def test_arch_parameters_doc_is_generated_from_declarations():
    assert (ROOT / "docs" / "arch-parameters.md").read_text() == parameters_markdown()


def test_every_command_has_help():
    """``eiesim <command> --help`` works for every command and subcommand (its output options included)."""
    from click.testing import CliRunner

    from eiesim.cli import _register, cli

    _register()
    runner = CliRunner()
    paths = []
    for name, command in cli.commands.items():
        paths.append([name])
        paths += [[name, sub] for sub in getattr(command, "commands", {})]
    assert ["reproduce", "eie-table4"] in paths and ["run"] in paths
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, (path, result.output, result.exception)


def test_only_the_cli_prints():
    """Library modules (everything outside eiesim/cli/) never print, import click, or make a rich Console."""
    import ast

    offenders = []
    for path in sorted((ROOT / "eiesim").rglob("*.py")):
        rel = path.relative_to(ROOT / "eiesim")
        if rel.parts[0] == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{rel}: print()")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                imported = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
                if any(n == "click" or n.startswith("click.") for n in names) or "Console" in imported:
                    offenders.append(f"{rel}: imports {names[0]} {imported}")
    assert not offenders, offenders


def test_output_checks_apply_when_a_command_module_was_imported_first(tmp_path):
    """A script (or a test) that imports a command's module before calling main() still gets the
    output-path checks: ``--json`` under a regular file is refused before any work, exit 2."""
    afile = tmp_path / "afile"
    afile.write_text("a file")
    script = ("import eiesim.cli.reproduce.squeezenet_mapping_report, eiesim.run.simulate as s\n"
              "def must_not_run(*a, **k):\n    raise SystemExit('work started before the paths were checked')\n"
              "s.simulate = must_not_run\n"
              "from eiesim.cli import main\n"
              f"main(['reproduce', 'squeezenet-mapping', '--synthetic', '--json', {str(afile / 'x.json')!r}])\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("eiesim: error: "), proc.stderr
    assert afile.read_text() == "a file"


def test_version_and_help_into_a_closed_pipe_are_quiet():
    """``eiesim --version | true``: the reader is gone before the line is written. No traceback, and the
    same exit code as the click path (``--help``) gives in the same situation."""
    import os

    codes = {}
    for arg in ("--version", "--help"):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            out = subprocess.run([sys.executable, "-m", "eiesim", arg], stdout=write_end, stderr=subprocess.PIPE,
                                 text=True, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        finally:
            os.close(write_end)
        assert out.stderr == "", (arg, out.stderr)
        codes[arg] = out.returncode
    assert codes["--version"] == codes["--help"] != 0
