"""The package's import graph, read from the source with `ast`: no cycle, and the layering the
design relies on (DESIGN.md section 1: "neither side imports the other").

Every import counts, at module level or inside a function (a deferred import is how a cycle
hides); only `if TYPE_CHECKING:` blocks, which never run, are left out."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "broker"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")
           if "migrations" not in p.relative_to(PACKAGE).parts[:1]}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST):
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def imports_of(name: str) -> set[str]:
    tree = ast.parse(MODULES[name].read_text(), str(MODULES[name]))
    found: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def in_area(module: str, area: str) -> bool:
    return module == area or module.startswith(area + ".")


def test_the_package_has_no_import_cycle():
    visiting, done, cycles = [], set(), []

    def visit(module: str) -> None:
        if module in done:
            return
        if module in visiting:
            cycles.append(visiting[visiting.index(module):] + [module])
            return
        visiting.append(module)
        for imported in sorted(GRAPH[module]):
            visit(imported)
        visiting.pop()
        done.add(module)

    for module in sorted(GRAPH):
        visit(module)
    assert cycles == [], "\n".join(" -> ".join(cycle) for cycle in cycles)


UPSTREAM_SIDES = ("broker.hub", "broker.one_login", "broker.openid_ida")  # Verify, One Login, OIDC4IDA


@pytest.mark.parametrize(("area", "forbidden"), [
    *[(upstream, other) for upstream in UPSTREAM_SIDES
      for other in (*UPSTREAM_SIDES, "broker.oidc", "broker.matching")
      if other != upstream],
    *[(side, upstream) for upstream in UPSTREAM_SIDES
      for side in ("broker.oidc", "broker.matching", "broker.web")],
    ("broker.oidc", "broker.matching"),
    ("broker.matching", "broker.oidc"),
    ("broker.web", "broker.state"),
    ("broker.web", "broker.oidc"),
    ("broker.web", "broker.matching"),
])
def test_one_side_never_imports_the_other(area, forbidden):
    offending = sorted(f"{module} imports {imported}" for module, imported_set in GRAPH.items()
                       if in_area(module, area) for imported in imported_set
                       if in_area(imported, forbidden))
    assert offending == []


@pytest.mark.parametrize("area", [*UPSTREAM_SIDES, "broker.oidc", "broker.matching", "broker.web"])
def test_no_side_reaches_back_into_the_journey(area):
    offending = sorted(module for module, imported in GRAPH.items()
                       if in_area(module, area) and "broker.journey" in imported)
    assert offending == []


@pytest.mark.parametrize("upstream", UPSTREAM_SIDES)
def test_only_the_journey_and_the_wiring_join_an_upstream_and_the_council_apps_side(upstream):
    joining = sorted(module for module, imported in GRAPH.items()
                     if any(in_area(i, upstream) for i in imported)
                     and any(in_area(i, "broker.oidc") for i in imported))
    assert set(joining) <= {"broker.journey", "broker.app", "broker.operations.checks"}, joining

