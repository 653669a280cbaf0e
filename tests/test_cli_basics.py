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


def test_architecture_doc_is_generated_from_declarations():
    assert (ROOT / "docs" / "architecture.md").read_text() == parameters_markdown()
