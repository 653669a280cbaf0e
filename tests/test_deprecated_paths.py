"""The flat module paths of eiesim 0.2 still import for one release: each warns and gives the new objects.

The list of old paths is ``MOVED`` in eiesim/_deprecated/__init__.py; docs/architecture.md
("Old module paths") describes them. ``eiesim.simulate`` and ``eiesim.sweep`` are not kept as
module paths (``REMOVED``): they are the public functions, and stay the functions whatever
is imported.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
import textwrap
import types
import warnings
from pathlib import Path

import pytest

from eiesim._deprecated import MOVED, REMOVED

ROOT = Path(__file__).resolve().parents[1]
ALIASES = ROOT / "eiesim" / "_deprecated"


def _old_path_of(path: Path) -> str:
    parts = list(path.relative_to(ALIASES).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["eiesim", *parts])


def _public_names(module: types.ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    return list(names) if names is not None else [n for n in vars(module) if not n.startswith("_")]


def test_every_old_path_is_one_alias_file():
    files = {_old_path_of(p) for p in ALIASES.rglob("*.py") if p != ALIASES / "__init__.py"}
    assert files == set(MOVED)


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_alias_file_holds_only_the_reexport(old):
    """Nothing in an alias can be mistaken for real code: a docstring, one import, one call."""
    parts = old.split(".")[1:]
    path = ALIASES.joinpath(*parts, "__init__.py") if (ALIASES.joinpath(*parts)).is_dir() else \
        ALIASES.joinpath(*parts[:-1], parts[-1] + ".py")
    body = ast.parse(path.read_text()).body
    assert len(body) == 3 and ast.get_docstring(ast.Module(body=body, type_ignores=[]))
    assert ast.unparse(body[1]) == "from eiesim._deprecated import reexport"
    assert ast.unparse(body[2]) == "reexport(globals())"


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_path_warns_at_the_importing_line_and_gives_the_new_objects(old):
    for name in [m for m in sys.modules if m == old or m.startswith(old + ".") or old.startswith(m + ".")]:
        if name != "eiesim" and (name in MOVED):
            del sys.modules[name]  # imported afresh, so that it warns again
    namespace: dict = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(f"import {old}\nmodule = {old}", "user_script.py", "exec"), namespace)
    mine = [w for w in caught if str(w.message).startswith(f"{old} is deprecated")]
    assert len(mine) == 1, [str(w.message) for w in caught]
    assert mine[0].category is DeprecationWarning
    assert (mine[0].filename, mine[0].lineno) == ("user_script.py", 1)  # the user's import, not eiesim's code
    for target in MOVED[old]:
        assert target in str(mine[0].message)
    shim = sys.modules[old]
    news = [importlib.import_module(m) for m in MOVED[old]]
    for new in news:
        for name in _public_names(new):
            first = next(m for m in news if hasattr(m, name))  # a name two new modules define: the first listed
            assert getattr(shim, name) is getattr(first, name), (old, name)


def test_the_old_public_names_are_kept():
    """Spot checks of names users imported from the old paths (each moved to another module)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from eiesim.atomic import OutputSet, check_output_file, clean_stale_temps  # noqa: F401
        from eiesim.images import load_image, prepare_input  # noqa: F401
        from eiesim.limits import check_memory, check_workload_memory  # noqa: F401
        from eiesim.models import LayerSpec, eie_fc_layer, import_dc  # noqa: F401
        from eiesim.onnx_import import import_onnx, onnxruntime_forward, to_workload  # noqa: F401
        from eiesim.report import layers_table, report_dict  # noqa: F401
        from eiesim.sweep_exec import DaskRunner, run_points  # noqa: F401
        from eiesim.workload import Workload, load_workload  # noqa: F401
    from eiesim.network.workload import Workload as real

    assert Workload is real


@pytest.mark.parametrize("old", sorted(REMOVED))
def test_the_module_paths_named_like_the_public_functions_are_gone(old):
    assert importlib.util.find_spec(old) is None
    module = importlib.import_module(REMOVED[old])
    assert isinstance(getattr(module, old.rsplit(".", 1)[1]), types.FunctionType)


def test_simulate_and_sweep_stay_the_functions_after_importing_every_module_and_alias():
    """In a fresh interpreter: every real module imports without touching an old path, then every
    alias imports too, and ``eiesim.simulate`` / ``eiesim.sweep`` are still the same functions."""
    script = textwrap.dedent("""
        import importlib, pkgutil, types, warnings
        import eiesim
        functions = (eiesim.simulate, eiesim.sweep)
        real, aliases = [], []
        for info in pkgutil.walk_packages(eiesim.__path__, "eiesim."):
            if info.name == "eiesim.__main__" or info.name.startswith("eiesim._deprecated"):
                continue
            origin = importlib.util.find_spec(info.name).origin
            (aliases if "_deprecated" in origin else real).append(info.name)
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # eiesim's own code never uses an old path
            for name in real:
                importlib.import_module(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            for name in aliases:
                importlib.import_module(name)
        from eiesim import simulate, sweep
        assert (eiesim.simulate, eiesim.sweep) == functions == (simulate, sweep), (eiesim.simulate, eiesim.sweep)
        assert all(isinstance(f, types.FunctionType) for f in functions)
        print(len(real), sorted(aliases))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    count, aliases = proc.stdout.split(" ", 1)
    assert int(count) > 100
    assert "'eiesim.atomic'" in aliases and "'eiesim.models.synthetic'" in aliases
    assert aliases.count("'eiesim.") == len(MOVED)
