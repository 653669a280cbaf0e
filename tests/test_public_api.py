"""The public API the way a researcher's script uses it: every name, every call, any import order."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import eiesim

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"

#: A sweep script as a user writes it: each public name used twice, in a loop, in a fresh
#: interpreter (where the submodules ``eiesim.simulate`` / ``eiesim.sweep`` are imported for the
#: first time *during* the first iteration: that import used to replace the functions).
SCRIPT = """
import types
import numpy as np
import eiesim
from eiesim import simulate as first_simulate, sweep as first_sweep
from eiesim.models.synthetic import eie_fc_layer

assert callable(first_simulate) and not isinstance(first_simulate, types.ModuleType), first_simulate
assert callable(first_sweep) and not isinstance(first_sweep, types.ModuleType), first_sweep
wl_path = {wl!r}
eiesim.save_workload(eie_fc_layer("fc", 64, 32, 0.3, 0.5, 4, 0), wl_path)
cycles = []
for i in range(2):
    for name in eiesim.__all__:
        obj = getattr(eiesim, name)
        assert not isinstance(obj, types.ModuleType), (i, name, obj)
    arch = eiesim.load_arch({tiny!r}, ["num_pes=2"])
    wl = eiesim.load_workload(wl_path)
    result = eiesim.simulate(arch, wl)
    assert isinstance(result, eiesim.SimulationResult)
    cycles.append(result.cycles)
    swept = eiesim.sweep({tiny!r}, wl_path, ["num_pes=1,2"])
    assert isinstance(swept, eiesim.SweepResult) and len(swept.rows) == 2
    eiesim.forward(wl, wl.input)
    import eiesim.simulate, eiesim.sweep, eiesim.functional  # noqa: F401  (the imports that used to rebind)
    from eiesim import simulate, sweep
    assert simulate is first_simulate and sweep is first_sweep
    try:
        eiesim.load_arch(None, ["num_pes=0"])
    except eiesim.EiesimError:
        pass
    assert isinstance(eiesim.ArchConfig(), eiesim.ArchConfig)
assert cycles[0] == cycles[1], cycles
print("ok", cycles)
"""


def test_every_public_name_works_on_every_call(tmp_path):
    script = SCRIPT.format(wl=str(tmp_path / "fc.npz"), tiny=str(TINY))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")


def test_from_eiesim_import_gives_the_functions():
    from eiesim import simulate, sweep
    from eiesim.simulate import simulate as real_simulate
    from eiesim.sweep import sweep as real_sweep

    assert simulate is real_simulate and sweep is real_sweep
    assert eiesim.simulate is real_simulate and eiesim.sweep is real_sweep


def _type_checking_imports() -> dict[str, str]:
    """{name: module} of the ``if TYPE_CHECKING:`` block of eiesim/__init__.py."""
    tree = ast.parse((ROOT / "eiesim" / "__init__.py").read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom), ast.dump(stmt)
                for alias in stmt.names:
                    # "import X as X" is the explicit re-export form type checkers honour.
                    assert alias.asname == alias.name, alias.name
                    found[alias.name] = stmt.module
    return found


def test_type_checkers_see_every_public_name_with_its_real_definition():
    """Each public name is imported for type checkers from the module that defines it (not ``Any``)."""
    assert _type_checking_imports() == eiesim._EXPORTS
    for name, module in eiesim._EXPORTS.items():
        obj = getattr(eiesim, name)
        assert getattr(obj, "__module__", None) == module, (name, obj)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'simulat'"):
        eiesim.simulat  # noqa: B018


def test_public_signatures_are_annotated():
    import inspect

    for name in ("load_arch", "load_workload", "simulate", "sweep", "forward"):
        sig = inspect.signature(getattr(eiesim, name))
        assert sig.return_annotation is not inspect.Signature.empty, name
        missing = [p.name for p in sig.parameters.values() if p.annotation is inspect.Parameter.empty]
        assert not missing, (name, missing)


def test_import_stays_light():
    """``import eiesim`` (and so ``eiesim --help``) does not pull in numba or the engines."""
    code = textwrap.dedent("""
        import sys, eiesim
        heavy = sorted(m for m in ("numba", "eiesim.simulate", "eiesim.sweep", "scipy") if m in sys.modules)
        print(heavy)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
