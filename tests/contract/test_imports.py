"""Imports point down: no module of `server/` or `tools/` reaches itself through its imports.

Every import counts: top-level, inside functions (a lazy import is still a dependency) and under
`if TYPE_CHECKING:` (a type-only import ties the modules' designs together just the same).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGES = {"server": "msgflash_mcp.server", "tools": "msgflash_mcp.tools"}


def modules(root: Path, packages: Mapping[str, str]) -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package's __init__)."""
    found: dict[str, tuple[Path, bool]] = {}
    for folder, package in packages.items():
        for path in (root / folder).rglob("*.py"):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            is_init = parts[-1] == "__init__"
            if is_init:
                parts = parts[:-1]
            found[".".join([package, *parts])] = (path, is_init)
    return found


def imported(name: str, path: Path, is_init: bool, known: Iterable[str]) -> set[str]:
    """The known modules `name` imports, anywhere in its file."""
    known = set(known)
    package = name if is_init else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            targets |= {module, *(f"{module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
    return {target for target in targets if target in known and target != name}


def circles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def import_graph(root: Path, packages: Mapping[str, str]) -> dict[str, set[str]]:
    known = modules(root, packages)
    return {name: imported(name, path, is_init, known) for name, (path, is_init) in known.items()}


def test_no_import_circle_in_server_or_tools() -> None:
    graph = import_graph(ROOT, PACKAGES)
    assert len(graph) > 60, "the walk found too few modules: are the folders where this test expects them?"
    found = circles(graph)
    assert not found, "import circles (type-only and function-level imports count):\n" + "\n".join(
        " <-> ".join(group) for group in found
    )


def test_a_type_only_or_lazy_import_closes_a_circle(tmp_path: Path) -> None:
    """The walk sees the imports a circle hides behind: TYPE_CHECKING and a function body."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .high import High\n")
    (pkg / "high.py").write_text("def late():\n    from . import low\n    return low\n")
    (pkg / "leaf.py").write_text("import pkg.low\n")
    graph = import_graph(tmp_path, {"pkg": "pkg"})
    assert graph["pkg.leaf"] == {"pkg.low"}
    assert circles(graph) == [["pkg.high", "pkg.low"]]
