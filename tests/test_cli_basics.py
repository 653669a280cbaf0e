"""The CLI wrapper: help, version, one-line errors, docs generated from declarations."""

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
