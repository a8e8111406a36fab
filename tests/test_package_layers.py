"""The package's import graph, read from the source with `ast`: no cycle, and the layering the
design relies on (docs/architecture.md section 2: siblings on one layer never import each other).

Every import counts, at module level or inside a function (a deferred import is how a cycle
hides); only `if TYPE_CHECKING:` blocks, which never run, are left out."""

from __future__ import annotations

import ast
import subprocess
import sys
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
ROOT = PACKAGE.parent


def test_the_layers_contract_holds():
    """import-linter's layers contract (pyproject.toml, [tool.importlinter]): a module imports
    only from layers below its own, and the upstream plug-ins, the OIDC provider and matching
    never import each other."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize("upstream", UPSTREAM_SIDES)
def test_the_journey_imports_no_upstream_plug_in(upstream):
    assert not any(in_area(imported, upstream) for imported in GRAPH["broker.journey"])


def test_only_the_registry_builds_upstreams_by_kind():
    """No module but the registry imports a plug-in's `upstream` module (where its kind is
    named), and no module compares the upstream kind: not the journey, the probes, the metrics,
    the application factory or `check-config` (the eight places of issue 25). Configuration
    reads the kind, and the development tools start the stub of the configured upstream."""
    builders = sorted(module for module, imported in GRAPH.items()
                      if any(i.endswith(".upstream") and i.startswith(UPSTREAM_SIDES)
                             for i in imported))
    assert builders == ["broker.upstreams.registry"]
    kind_comparisons = ("config.upstream ==", "config.upstream !=", '== "verify"',
                        '== "one_login"')
    comparing = sorted(module for module, path in MODULES.items()
                       if module != "broker.config" and not in_area(module, "broker.devtools")
                       and any(text in path.read_text() for text in kind_comparisons))
    assert comparing == []


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

