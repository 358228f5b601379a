"""No import circle in the package code (issue #20): the layers import downwards only.

The graph has an edge from a module to every module it imports, lazy imports inside functions
included (a lazy import hides a circle from Python, not from a reader). Parent packages are not
edges: importing ``a.b.c`` runs ``a/__init__.py``, but that is the package's door, not a design
dependency.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("crm_gym", "agents", "benchmarks", "curricula", "scripts")


def module_names() -> dict[str, Path]:
    """Every module of the packages, by dotted name (a package by its ``__init__``)."""
    modules = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a ``from`` import reads from (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    anchor = module.split(".") if is_package else module.split(".")[:-1]
    anchor = anchor[: len(anchor) - node.level + 1]
    return ".".join([*anchor, node.module] if node.module else anchor)


def _imported(node: ast.AST, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """The package modules one statement imports: ``from a import b`` is ``a.b`` if a module."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names} & modules
    if not isinstance(node, ast.ImportFrom):
        return set()
    base = _base(node, module, is_package)
    found = {f"{base}.{alias.name}" for alias in node.names} & modules
    if len(found) < len(node.names) and base in modules:
        found.add(base)  # some names are the base module's own members
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, at the top or inside functions."""
    paths = module_names()
    modules = set(paths)
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_package = path.name == "__init__.py"
        edges = set().union(*(_imported(n, name, is_package, modules) for n in ast.walk(tree)))
        graph[name] = edges - {name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_in_the_package_code():
    found = set(circles(import_graph()))
    assert found == set(), sorted(map(sorted, found))


def test_the_format_does_not_import_the_generator():
    """``crm_gym.data`` is the Arc format; the generator writes it and may import it, not back."""
    graph = import_graph()
    data = {name for name in graph if name.split(".")[:2] == ["crm_gym", "data"]}
    reached = {t for name in data for t in graph[name] if t.startswith("crm_gym.generator")}
    assert reached == set()
    assert "crm_gym.data.language" in graph["crm_gym.generator.phrasing"]


def test_lazy_imports_are_edges():
    graph = import_graph()
    assert "benchmarks.report" in graph["benchmarks.plots"]
    assert "benchmarks.plots" not in graph["benchmarks.report"]
    assert "benchmarks.task_sets" in graph["benchmarks.metrics"]  # inside main()
    assert "agents.lora" in graph["agents.checkpoint"]


def test_relative_imports_resolve_against_the_importing_module():
    modules = {"p.a", "p.b", "p.sub.c"}
    statement = ast.parse("from . import b\nfrom .sub import c, helper").body
    assert _imported(statement[0], "p.a", False, modules) == {"p.b"}
    assert _imported(statement[1], "p", True, modules) == {"p.sub.c"}  # p.sub is no module here
    assert _imported(ast.parse("from .. import b").body[0], "p.sub.c", False, modules) == {"p.b"}


def readme_map() -> tuple[list[str], list[str]]:
    """The README layout map's top-level folders (in order) and the ``crm_gym`` folders."""
    text = (REPO / "README.md").read_text(encoding="utf-8").split("## Layout", 1)[1]
    block = text.split("```text\n", 1)[1].split("```", 1)[0]
    top = [line.split("/")[0] for line in block.splitlines() if line[:1].isalpha()]
    inner = re.findall(r"^  (\w+)/", block.split("curricula/", 1)[0], re.MULTILINE)
    return top, inner


def test_readme_map_lists_every_package_in_import_order():
    top, inner = readme_map()
    assert top == ["crm_gym", "curricula", "agents", "benchmarks", "scripts", "tests"]
    assert sorted(inner) == sorted(p.parent.name for p in (REPO / "crm_gym").glob("*/__init__.py"))
    upward = {
        (module, target)
        for module, targets in import_graph().items()
        for target in targets
        if top.index(target.split(".")[0]) > top.index(module.split(".")[0])
    }
    assert upward == set()


def test_circles_finds_each_strongly_connected_group():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": set()}
    assert set(circles(graph)) == {frozenset("abc"), frozenset("de")}
    assert circles({"a": {"b"}, "b": set()}) == []
