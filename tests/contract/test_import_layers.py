"""Imports point down: no circle in `server/` or `tools/`, and the layers below keep to themselves.

Every import counts: top-level, inside functions (a lazy import is still a dependency) and under
`if TYPE_CHECKING:` (a type-only import ties the modules' designs together just the same). Importing
`a.b.c` also runs the `__init__` of `a.b`, so it counts as importing that package too (not the
importer's own packages, which are already running when it runs): a package that re-exports a module
closes a circle through its `__init__`.

The layers, bottom up:
- `server/core/`: errors, results, settings, workspaces, credentials. A floor: it imports only itself and
  the two text leaves below it (`wire`, `untrusted`), which import nothing else of ours.
- `server/api/`: the MsgFlash client. It receives a bound credential (`core.credentials`) and knows no
  workspace table, settings, campaign or opt-out record, guard, call step, tool declaration or tool.
- `server/guard/`: receives its policy object (`GuardPolicy`), never `Settings`, and knows no tool
  declaration, call step or tool.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGES = {"server": "msgflash_mcp.server", "tools": "msgflash_mcp.tools"}
S = "msgflash_mcp.server"

CORE = f"{S}.core"
# Text leaves the core may use (quoting a workspace name a caller gave): they import nothing but each other.
TEXT_LEAVES = {f"{S}.wire", f"{S}.untrusted"}
# What the API client may import, besides server/api itself: a bound credential, errors, and the leaves that
# keep secrets out of logs and read JSON. Nothing that knows a workspace table, settings or a tool.
API_MAY_IMPORT = {f"{S}.core", f"{S}.core.errors", f"{S}.core.credentials", f"{S}.redact", f"{S}.wire"}
# What the guard may not reach: tool declarations, the call steps, the tools, the runtime and the tables.
GUARD_MAY_NOT = (f"{S}.registry", f"{S}.call", "msgflash_mcp.tools", f"{S}.runtime", f"{S}.core.workspaces",
                 f"{S}.campaign_record", f"{S}.opt_outs", f"{S}.app")


@dataclass(frozen=True)
class Import:
    module: str  # the module (or package) named, resolved
    name: str | None  # `from module import name`; None for `import module` and `from . import module`


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


def statements(name: str, path: Path, is_init: bool, known: Iterable[str]) -> list[Import]:
    """Every import in `name`'s file, anywhere in it, with relative names resolved. A `from m import x`
    where `m.x` is a module reads as importing `m.x`."""
    known = set(known)
    package = name if is_init else name.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.append(Import(sub, None) if sub in known else Import(module, alias.name))
        elif isinstance(node, ast.Import):
            found.extend(Import(alias.name, None) for alias in node.names)
    return found


def _packages_of(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def imported(name: str, path: Path, is_init: bool, known: Iterable[str]) -> set[str]:
    """The known modules importing `name` runs: each one it names, and the packages above them that are
    not its own (their `__init__` runs first)."""
    known = set(known)
    own = _packages_of(name) | {name}
    targets: set[str] = set()
    for statement in statements(name, path, is_init, known):
        targets.add(statement.module)
        targets |= _packages_of(statement.module) - own
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
        for other in sorted(graph[node]):
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


GRAPH = import_graph(ROOT, PACKAGES)


def _within(module: str, *prefixes: str) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def _arrows(source: str, allowed: Iterable[str] = (), forbidden: Iterable[str] = ()) -> list[str]:
    """`a -> b` for each import of a module under `source` that goes neither to `source` nor to a module
    named in `allowed` (exactly), or that goes under a prefix in `forbidden`."""
    allowed, forbidden = set(allowed), tuple(forbidden)
    return sorted(
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if _within(name, source)
        for target in targets
        if (allowed and target not in allowed and not _within(target, source)) or _within(target, *forbidden)
    )


def test_no_import_circle_in_server_or_tools() -> None:
    assert len(GRAPH) > 60, "the walk found too few modules: are the folders where this test expects them?"
    found = circles(GRAPH)
    assert not found, "import circles (type-only, function-level and package-__init__ imports count):\n" + "\n".join(
        " <-> ".join(group) for group in found
    )


def test_the_core_is_a_floor() -> None:
    assert any(_within(name, CORE) for name in GRAPH), "server/core/ is missing: did the leaves move?"
    assert _arrows(CORE, allowed=TEXT_LEAVES) == []
    for leaf in TEXT_LEAVES:
        assert GRAPH[leaf] <= TEXT_LEAVES, f"{leaf} is below the core, so it imports nothing but the other text leaf"


def test_the_api_client_knows_credentials_not_workspaces_or_tools() -> None:
    assert _arrows(f"{S}.api", allowed=API_MAY_IMPORT) == []


def test_the_guard_takes_a_policy_not_settings() -> None:
    assert _arrows(f"{S}.guard", forbidden=GUARD_MAY_NOT) == []
    known = modules(ROOT, PACKAGES)
    settings_imports = [
        f"{name} imports {statement.name or statement.module}"
        for name, (path, is_init) in known.items()
        if _within(name, f"{S}.guard")
        for statement in statements(name, path, is_init, known)
        if statement.name == "Settings" or (statement.module == f"{S}.core.settings" and statement.name is None)
    ]
    assert settings_imports == [], "the guard is given a GuardPolicy (server/guard/policy.py), built from Settings by the runtime"


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


def test_a_package_that_re_exports_closes_a_circle_through_its_init(tmp_path: Path) -> None:
    """`from pkg.sub.plan import Plan` runs pkg/sub/__init__.py first; if that re-exports a module which
    imports the importer back, the three are one circle, although no module names another directly."""
    sub = tmp_path / "pkg" / "sub"
    sub.mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (sub / "__init__.py").write_text("from .confirm import Guard\n")
    (sub / "plan.py").write_text("class Plan: ...\n")
    (sub / "confirm.py").write_text("from ..registry import Spec\nfrom .plan import Plan\n")
    (tmp_path / "pkg" / "registry.py").write_text("from .sub.plan import Plan\n")
    graph = import_graph(tmp_path, {"pkg": "pkg"})
    assert graph["pkg.registry"] == {"pkg.sub", "pkg.sub.plan"}
    assert graph["pkg.sub.confirm"] == {"pkg.registry", "pkg.sub.plan"}  # its own package is not an arrow
    assert circles(graph) == [["pkg.registry", "pkg.sub", "pkg.sub.confirm"]]
