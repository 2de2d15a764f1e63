"""The import graph of the project's packages: no cycles, and imports only point down the layers.

Every ``import`` statement counts, at module level or inside a function (an
import inside a function hides a cycle from Python, not from this test). The
layers, top to bottom (docs/design.md, "Layers"):

* ``scenarios`` may import ``policies``, ``analysis`` and ``simulator``;
* ``policies`` imports only ``simulator``;
* ``analysis`` imports only ``simulator`` (never ``policies`` nor ``scenarios``);
* ``simulator`` imports nothing of the project above it.

Entry points (``__main__`` modules and the command-line programs in
:data:`ENTRY_POINTS`) sit on top and may import any layer; nothing may import them
except their own package's ``__main__``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("simulator", "policies", "scenarios", "analysis")

ALLOWED = {
    "simulator": {"simulator"},
    "policies": {"policies", "simulator"},
    "analysis": {"analysis", "simulator"},
    "scenarios": {"scenarios", "policies", "analysis", "simulator"},
}
"""The packages each package's library modules may import."""

ENTRY_POINTS = frozenset({"policies.train", "policies.tune", "analysis.sweep"})
"""Programs run as ``python -m NAME`` that live inside a lower layer and drive the layers above it."""

KNOWN_CYCLES: list[frozenset[str]] = [
    # The cycles below exist on main and are being removed by their owners. Whoever removes one deletes its
    # entry here (the test fails while a listed cycle no longer exists, so the list stays true); any cycle
    # not listed fails the test.
]


# ------------------------------------------------------------------ the graph
def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of ``packages`` under ``root``."""
    out = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _known_prefix(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, set[str]]:
    """Module -> the project modules it imports (any statement, at any depth of the module's code)."""
    modules = module_files(root, packages)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    hit = _known_prefix(alias.name, modules)
                    if hit:
                        targets.add(hit)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = name.split(".") if is_package else name.split(".")[:-1]
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                else:
                    base = node.module or ""
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    hit = full if full in modules else _known_prefix(base, modules)
                    if hit:
                        targets.add(hit)
        targets.discard(name)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def is_entry_point(module: str) -> bool:
    """``__main__`` modules and the listed programs."""
    return module.rsplit(".", 1)[-1] == "__main__" or module in ENTRY_POINTS


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs that break the layers, or a library module that imports an entry point."""
    bad = []
    for module, targets in graph.items():
        top = module.split(".")[0]
        for target in sorted(targets):
            imports_a_program = is_entry_point(target) and not is_entry_point(module)
            goes_up = not is_entry_point(module) and target.split(".")[0] not in ALLOWED[top]
            if imports_a_program or goes_up:
                bad.append((module, target))
    return bad


# ----------------------------------------------------------------- the checks
@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(ROOT)


def test_the_graph_sees_the_project(graph):
    # a sanity check of the parser: known edges, including imports inside functions, are found
    assert "simulator.config" in graph["scenarios._cli"]
    assert "analysis.runs" in graph["scenarios._cli"]  # imported inside prepare_run
    assert len(graph) > 40


def test_no_new_import_cycles(graph):
    found = set(cycles(graph))
    new = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    assert not new, f"import cycles: {new}; move the shared types to their own module"


def test_the_list_of_known_cycles_is_current(graph):
    found = set(cycles(graph))
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert not gone, f"these cycles are gone: delete them from KNOWN_CYCLES: {gone}"


def test_imports_point_down_the_layers(graph):
    assert upward_imports(graph) == []


def test_policies_never_imports_scenarios_outside_its_entry_point(graph):
    offenders = [
        (m, t)
        for m, targets in graph.items()
        if m.startswith("policies") and not is_entry_point(m)
        for t in targets
        if t.startswith(("scenarios", "analysis"))
    ]
    assert offenders == []


# ------------------------------------------------------------ the checker itself
def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_checker_finds_a_cycle_hidden_in_a_function_and_an_upward_import(tmp_path):
    root = _tree(
        tmp_path,
        {
            "simulator/__init__.py": "",
            "simulator/a.py": "def f():\n    from . import b\n",
            "simulator/b.py": "from simulator.a import f\n",
            "policies/__init__.py": "",
            "policies/p.py": "import numpy\nfrom scenarios.s import x\n",
            "policies/train.py": "from scenarios import s\n",
            "scenarios/__init__.py": "",
            "scenarios/s.py": "from ..policies import p\nx = 1\n",
            "analysis/__init__.py": "",
        },
    )
    graph = import_graph(root)
    assert graph["simulator.a"] == {"simulator.b"} and graph["scenarios.s"] == {"policies.p"}
    assert frozenset({"simulator.a", "simulator.b"}) in cycles(graph)
    assert frozenset({"policies.p", "scenarios.s"}) in cycles(graph)
    assert upward_imports(graph) == [("policies.p", "scenarios.s")]  # the entry point may import scenarios


def test_the_checker_refuses_an_import_of_an_entry_point(tmp_path):
    root = _tree(
        tmp_path,
        {
            "simulator/__init__.py": "",
            "policies/__init__.py": "",
            "policies/train.py": "",
            "scenarios/__init__.py": "",
            "scenarios/s.py": "import policies.train\n",
            "analysis/__init__.py": "",
        },
    )
    assert upward_imports(import_graph(root)) == [("scenarios.s", "policies.train")]


if __name__ == "__main__":  # print the graph's cycles and upward imports
    g = import_graph(ROOT)
    print("cycles:", [sorted(c) for c in cycles(g)], "\nupward:", upward_imports(g), file=sys.stdout)
