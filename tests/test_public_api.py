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
#: interpreter (where the implementing modules are imported for the first time *during* the
#: first iteration: importing a submodule named like a function used to replace the function).
SCRIPT = """
import types
import numpy as np
import eiesim
from eiesim import simulate as first_simulate, sweep as first_sweep
from eiesim.network.synthetic import eie_fc_layer

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
    import eiesim.run.simulate, eiesim.sweeps.sweep, eiesim.network.functional  # noqa: F401
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
    """``eiesim.simulate`` / ``eiesim.sweep`` are plain functions that call the implementations."""
    import types

    from eiesim import simulate, sweep
    from eiesim.run.simulate import simulate as real_simulate
    from eiesim.sweeps.sweep import sweep as real_sweep

    for public, real in ((simulate, real_simulate), (sweep, real_sweep)):
        assert isinstance(public, types.FunctionType) and public.__module__ == "eiesim"
        assert real.__module__ != "eiesim"
    assert eiesim.simulate is simulate and eiesim.sweep is sweep
    assert type(eiesim) is types.ModuleType  # no module subclass guards the names


def test_each_function_has_its_implementations_signature():
    """The wrappers in ``eiesim/__init__.py`` take exactly what their implementations take."""
    import importlib
    import inspect

    assert set(eiesim.FUNCTIONS) | set(eiesim.CLASSES) | {"__version__"} == set(eiesim.__all__)
    for name, module in eiesim.FUNCTIONS.items():
        implementation = getattr(importlib.import_module(module), name)
        assert inspect.signature(getattr(eiesim, name)) == inspect.signature(implementation), name
        assert getattr(eiesim, name).__doc__, name


def _type_checking_imports() -> dict[str, str]:
    """{name: module} of the re-exports (``import X as X``) in the ``if TYPE_CHECKING:`` block of eiesim/__init__.py."""
    tree = ast.parse((ROOT / "eiesim" / "__init__.py").read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom):
                    for alias in stmt.names:
                        if alias.asname == alias.name:  # "import X as X": the explicit re-export form
                            found[alias.name] = stmt.module
    return found


def test_type_checkers_see_every_public_class_with_its_real_definition():
    """Each public class is imported for type checkers from the module that defines it (not ``Any``)."""
    assert _type_checking_imports() == eiesim.CLASSES
    for name, module in eiesim.CLASSES.items():
        obj = getattr(eiesim, name)
        assert isinstance(obj, type) and obj.__module__ == module, (name, obj)


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
    """``import eiesim`` (and so ``eiesim --help``) does not pull in numba, the engines or matplotlib."""
    code = textwrap.dedent("""
        import sys, eiesim
        heavy = ("numba", "eiesim.run.simulate", "eiesim.sweeps.sweep", "scipy", "matplotlib")
        print(sorted(m for m in heavy if m in sys.modules))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_public_sweeps_point_limit_is_the_grids():
    import inspect

    from eiesim.sweeps.grid import MAX_GRID_POINTS

    assert inspect.signature(eiesim.sweep).parameters["max_points"].default == MAX_GRID_POINTS
