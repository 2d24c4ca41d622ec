"""Imports flow one way: no module of secure-mcp imports, however indirectly, a module that imports it.

Counted are all imports, also those inside functions and under ``TYPE_CHECKING``: a circle hidden
that way still means two modules that cannot be understood (or moved) one without the other. The
lint rules (ruff banned-api in pyproject.toml) guard the boundaries; this guards the direction.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Set
from functools import cache
from pathlib import Path

from tests.source_tree import import_statements

ROOT = Path(__file__).resolve().parents[2]
# tools/ is a top-level folder of the repository, installed as secure_mcp.tools.
SOURCES = ((ROOT / "secure_mcp", "secure_mcp"), (ROOT / "tools", "secure_mcp.tools"))


def modules() -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package's ``__init__``)."""
    found: dict[str, tuple[Path, bool]] = {}
    for folder, package in SOURCES:
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder)
            if package == "secure_mcp" and rel.parts[0] == "tools":
                continue  # the link (or mapping) to tools/, read from there
            parts = [part for part in rel.with_suffix("").parts if part != "__init__"]
            found[".".join([package, *parts])] = (path, path.name == "__init__.py")
    return found


def imported_names(name: str, path: Path, is_package: bool) -> Iterator[str]:
    """Every module (and ``module.symbol``) named by any import statement anywhere in the file."""
    for node in import_statements(path):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                base = here[: len(here) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


@cache
def import_graph() -> dict[str, frozenset[str]]:
    found = modules()
    return {
        name: frozenset(
            target for target in imported_names(name, path, is_package) if target in found and target != name
        )
        for name, (path, is_package) in found.items()
    }


def cycles(graph: Mapping[str, Set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_planted_circle() -> None:
    """The check can fail: a circle through three modules (as redactor <-> stream was) is reported."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_relative_function_level_and_type_checking_imports() -> None:
    graph = import_graph()
    assert "secure_mcp.redaction.stream" in graph["secure_mcp.redaction.redactor"]  # relative import
    assert "secure_mcp.stages.confirm" in graph["secure_mcp.pipeline"]  # inside build_pipeline
    assert "secure_mcp.sandbox" in graph["secure_mcp.toolkit"]  # under TYPE_CHECKING
    assert "secure_mcp.tools._sandboxed" in graph["secure_mcp.tools.run_command"]  # tools/ as secure_mcp.tools


def test_no_module_imports_itself_through_others() -> None:
    assert cycles(import_graph()) == []
