"""Type checking: mypy finds the installed eiesim (PEP 561, py.typed) and the package passes mypy.

The first test is what a user sees: a study script checked with ``mypy --strict`` in a
directory outside the checkout finds eiesim through the installation (for ``pip install -e .``
a plain ``.pth`` path, see pyproject.toml's ``package-dir``) and learns the real types of its
functions. The second is what CI runs: ``mypy -p eiesim`` with the project's configuration.
Both use the venv's mypy (a test extra) and a fresh cache directory.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("mypy")

ROOT = Path(__file__).resolve().parents[1]

USER_SCRIPT = textwrap.dedent('''
    from pathlib import Path

    import eiesim

    def cycles_per_pe(arch_path: Path, workload_path: Path) -> dict[int, int]:
        arch = eiesim.load_arch(arch_path)
        wl = eiesim.load_workload(workload_path)
        table = eiesim.sweep(arch, wl, {"num_pes": [1, 2]}, input=None)
        first: eiesim.SimulationResult = eiesim.simulate(arch.derive(num_pes=4), wl)
        assert first.cycles > 0
        return {int(row["num_pes"]): int(row["cycles"]) for row in table.rows}

    reveal_type(eiesim.load_arch)
    reveal_type(eiesim.simulate(eiesim.load_arch(None), eiesim.load_workload("x.npz")).cycles)
''')


def _mypy(args: list[str], cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(cache), "--no-error-summary", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.mark.slow
def test_strict_mypy_on_a_user_script_finds_eiesim_and_its_types(tmp_path):
    script = tmp_path / "study.py"
    script.write_text(USER_SCRIPT)
    proc = _mypy(["--strict", str(script)], tmp_path, tmp_path / "cache")
    notes = [line for line in proc.stdout.splitlines() if "Revealed type" in line]
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert errors == [], proc.stdout + proc.stderr
    assert len(notes) == 2, proc.stdout + proc.stderr
    assert "eiesim.config.arch.ArchConfig" in notes[0]  # the real signature, not Any (an unfound module)
    assert re.search(r'Revealed type is "(builtins\.)?int"$', notes[1]), notes[1]


@pytest.mark.slow
def test_mypy_passes_on_the_package(tmp_path):
    proc = _mypy(["-p", "eiesim"], ROOT, tmp_path / "cache")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_mypy_skips_no_module_of_eiesim():
    """No module's type errors are silenced in pyproject.toml: fix them instead of listing the module.

    The only overrides allowed name third-party packages that ship no types (their names are Any).
    """
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert not config.get("ignore_errors")
    for entry in config.get("overrides", []):
        assert not entry.get("ignore_errors"), f"mypy skips {entry['module']}; fix their type errors instead"
        own = [m for m in entry["module"] if m == "eiesim" or m.startswith("eiesim.")]
        assert own == [], f"an override names eiesim's own modules {own}"
