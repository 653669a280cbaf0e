"""The package layout (issue 21): stage folders, no import cycle, imports only downward.

The import graph is read from the source, not from a running interpreter: every module of
``eiesim/`` is parsed with ``ast`` and every import statement counts -- at module level and
inside functions (a lazy import runs when its function does, so it can close a cycle at run
time too) -- except those under ``if TYPE_CHECKING:``, which never run. Relative imports are
resolved, and ``from pkg import name`` points at the submodule ``pkg.name`` when there is one.
The implicit import of a package's ``__init__`` before its child is not an edge; a child that
imports names from its package's ``__init__`` is.

The allowed imports between stages are the table of docs/architecture.md ("Allowed
imports"): the test reads that table, so the documentation and the rule cannot drift apart.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "eiesim"
ARCHITECTURE_DOC = ROOT / "docs" / "architecture.md"
#: Top-level modules every stage may import.
FOUNDATION = ("eiesim.errors", "eiesim.version")
#: Not part of the layout: the deprecated aliases of old paths (tested in test_deprecated_paths.py).
SKIPPED_FOLDERS = ("_deprecated",)


# -- reading the import graph ----------------------------------------------------------------

def module_files(package_dir: Path = PACKAGE_DIR) -> dict[str, Path]:
    """{dotted module name: file} of every module of the package (a package's name maps to its ``__init__.py``)."""
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir.parent).with_suffix("")
        if "__pycache__" in rel.parts or any(part in SKIPPED_FOLDERS for part in rel.parts):
            continue
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement under ``node``, wherever it is, except the bodies of ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            found.append(child)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.orelse:
                found.extend(_import_nodes(ast.Module(body=[stmt], type_ignores=[])))
        else:
            found.extend(_import_nodes(child))
    return found


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` if it is a module of the package, else its longest prefix that is (None outside the package)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path], top: str) -> set[str]:
    """The package's modules that ``module`` (defined in ``path``) imports at run time."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                here = module.split(".") if is_package else module.split(".")[:-1]
                anchor = here[: len(here) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        for name in names:
            if name == top or name.startswith(top + "."):
                target = _known(name, modules)
                if target is not None and target != module:
                    targets.add(target)
    return targets


def import_graph(package_dir: Path = PACKAGE_DIR) -> nx.DiGraph:
    """Module -> module it imports, over the whole package."""
    modules = module_files(package_dir)
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for target in imports_of(name, path, modules, package_dir.name):
            graph.add_edge(name, target)
    return graph


def cycles_of(graph: nx.DiGraph) -> list[list[str]]:
    """One cycle of each strongly connected component that has one (readable in a failure message)."""
    found = []
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            found.append([a for a, _ in nx.find_cycle(graph.subgraph(component))])
    return found


# -- the stage table of docs/architecture.md -------------------------------------------------------

def stage_of(module: str) -> str:
    """``eiesim.run.simulate`` -> "run"; the package's own ``__init__`` is "eiesim"; top-level modules by name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "eiesim"


def allowed_imports() -> dict[str, set[str]]:
    """{stage: the stages it may import} from the table under "## Allowed imports" in docs/architecture.md."""
    text = ARCHITECTURE_DOC.read_text()
    section = text.split("## Allowed imports", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("| `") else []
        if len(cells) >= 2:
            stage = re.fullmatch(r"`([\w.]+)`.*", cells[0])
            assert stage, line
            table[stage.group(1)] = set(re.findall(r"`([\w.]+)`", cells[1]))
    return table


# -- tests -------------------------------------------------------------------------------------------

def test_the_graph_reader_sees_lazy_imports_and_skips_type_checking_ones(tmp_path):
    """The reader itself, on a small package whose only cycle is closed by a lazy import."""
    pkg = tmp_path / "demo"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from demo.sub.b import f\n")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from demo import c\n"
                              "def g():\n    from demo.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from ..a import g\ndef f():\n    return g\n")
    (pkg / "c.py").write_text("import demo.a\nfrom demo import sub\n")
    graph = import_graph(pkg)
    assert set(graph.edges) == {("demo.a", "demo.sub.b"), ("demo.sub.b", "demo.a"), ("demo.sub", "demo.sub.b"),
                                ("demo.c", "demo.a"), ("demo.c", "demo.sub")}
    assert [sorted(c) for c in cycles_of(graph)] == [["demo.a", "demo.sub.b"]]


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert graph.number_of_edges() > 200  # the reader found the package's imports
    for lazy in [("eiesim.run.result", "eiesim.version"), ("eiesim.run.simulate", "eiesim.timing.fast")]:
        assert graph.has_edge(*lazy), lazy
    cycles = cycles_of(graph)
    assert not cycles, "import cycles (each listed as the modules around it):\n" + "\n".join(
        " -> ".join([*c, c[0]]) for c in cycles)


def test_the_allowed_imports_are_a_downward_order():
    table = allowed_imports()
    stages = nx.DiGraph([(a, b) for a, allowed in table.items() for b in allowed])
    stages.add_nodes_from(table)
    assert nx.is_directed_acyclic_graph(stages), nx.find_cycle(stages)
    assert set().union(*table.values()) <= set(table), "every stage a row names has its own row"


def test_every_stage_imports_only_what_docs_architecture_allows():
    table = allowed_imports()
    graph = import_graph()
    stages = {stage_of(m) for m in graph}
    assert stages == set(table) | {"errors", "version"}, "every stage folder has a row in docs/architecture.md"
    wrong = sorted(f"{a} -> {b} ({stage_of(a)} may import: {', '.join(sorted(table[stage_of(a)])) or 'nothing'})"
                   for a, b in graph.edges
                   if stage_of(a) not in ("errors", "version") and stage_of(a) != stage_of(b)
                   and b not in FOUNDATION and stage_of(b) not in table[stage_of(a)])
    assert not wrong, "imports against the stage order of docs/architecture.md:\n" + "\n".join(wrong)
    for module in FOUNDATION:
        assert not set(graph.successors(module)) - set(FOUNDATION), module


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in PACKAGE_DIR.glob("*/__init__.py")
                                          if p.parent.name not in SKIPPED_FOLDERS))
def test_each_stage_folder_says_its_job_in_one_line(folder):
    doc = ast.get_docstring(ast.parse((PACKAGE_DIR / folder / "__init__.py").read_text()))
    assert doc, folder
    first = doc.splitlines()[0]
    assert first.startswith(f"{folder}: ") and len(first) <= 120 and first.endswith("."), first
