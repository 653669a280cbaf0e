"""Helpers shared by the tests: repository paths and running the CLI in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from eiesim.cli import main

ROOT = Path(__file__).resolve().parents[1]
#: ../shared beside the checkout (also in CI): the real model file and reference data.
SHARED = ROOT.parent / "shared"
NET = SHARED / "models" / "squeezenet_dc" / "compressed_SqueezeNet.net"
PROTOTXT = SHARED / "models" / "squeezenet_dc" / "SqueezeNet_deploy.prototxt"


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run ``eiesim ARGS`` in this process; return (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(args)
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return info.value.code, out, err


def run_exit_code(argv: list[str]) -> int:
    """Run ``eiesim ARGV`` in this process and return its exit code (output left to capsys)."""
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
