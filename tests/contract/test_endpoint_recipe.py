"""The endpoint recipe (docs/adding-an-endpoint.md): every endpoint of the contract has its four pieces.

An endpoint in api-contract/endpoints.json needs a tool declaration (tools/<toolset>.py) with a valid
example, a sandbox route (sandbox/routes/<group>.py) and a behaviour test (tests/tools/test_<toolset>.py)
that calls the tool; its audit rule is derived from the declaration's Effect (which calls are audited) and
its argument types (which values are kept), and the contract says which endpoints must be audited. Each test names the endpoint, what is missing and where to add it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, cast

from msgflash_mcp.sandbox.routes import ALL_ROUTES
from msgflash_mcp.server.registry import Later, Made, Seed, ToolSpec
from msgflash_mcp.tools import ALL_TOOLSETS
from pydantic import ValidationError

from tests.sandbox.helpers import routes_module

ROOT = Path(__file__).parents[2]
ENDPOINTS: list[dict[str, Any]] = json.loads((ROOT / "api-contract/endpoints.json").read_text())
SPECS = [spec for toolset in ALL_TOOLSETS for spec in toolset.specs]
BEHAVIOUR_TESTS = ROOT / "tests/tools"
# list_campaigns reads the server's local record and, for live status, the route get_campaign owns; the
# opt-out tools keep a local list and read messages (inbound opt-outs) or contacts (who a number is).
READS_OF_OTHERS = {"list_campaigns", "list_opt_outs", "add_opt_out", "remove_opt_out"}


def _shape(path: str) -> str:
    """A path with its parameters unnamed: the contract's {jobId} and a route's {id} are one place."""
    return re.sub(r"\{\w+\}", "{}", path)


def _key(method: str, path: str) -> tuple[str, str]:
    return method, _shape(path)


def _label(endpoint: dict[str, Any]) -> str:
    return f"{endpoint['method']} {endpoint['path']} ({endpoint['group']})"


def _owner(endpoint: dict[str, Any]) -> ToolSpec | None:
    key = _key(endpoint["method"], endpoint["path"])
    owners = [s for s in SPECS if s.route and s.name not in READS_OF_OTHERS and _key(s.route.method, s.route.path) == key]
    return owners[0] if owners else None


def _owned() -> list[tuple[dict[str, Any], ToolSpec]]:
    return [(endpoint, spec) for endpoint in ENDPOINTS if (spec := _owner(endpoint)) is not None]


def _calls(tool: str) -> re.Pattern[str]:
    # call_ok(client, "x"), call_error(client, "x"), client.call_tool("x"), session.call("x")
    return re.compile(r"\b(?:call_ok|call_error)\(\s*\w+\s*,\s*\"" + tool + r"\"|\.call(?:_tool)?\(\s*\"" + tool + r"\"")


def test_every_endpoint_has_a_tool_declaration() -> None:
    missing = [
        f"{_label(e)}: no tool declares it; add `@toolset.tool({e['method']}(\"{e['path']}\"), Effect.…)` "
        "in tools/<toolset>.py (the toolset of its group) and list the toolset in tools/__init__.py if new"
        for e in ENDPOINTS
        if _owner(e) is None
    ]
    assert not missing, "\n".join(missing)


def test_every_declared_route_is_in_the_contract_once() -> None:
    documented = {_key(e["method"], e["path"]) for e in ENDPOINTS}
    routes = [s.route for s in SPECS if s.route and s.name not in READS_OF_OTHERS]
    problems = [
        f"{r.method} {r.path}: declared by a tool but not in api-contract/endpoints.json; add the endpoint there "
        "(and to REFERENCE.md)"
        for r in routes
        if _key(r.method, r.path) not in documented
    ]
    keys = [_key(r.method, r.path) for r in routes]
    problems += [f"{key[0]} {key[1]}: declared by two tools" for key in sorted(set(keys)) if keys.count(key) > 1]
    assert not problems, "\n".join(problems)


def test_every_endpoint_has_a_sandbox_route() -> None:
    routes = {_key(r.method, r.path) for r in ALL_ROUTES}
    missing = [
        f"{_label(e)}: the sandbox does not serve it; add `@route(ROUTES, \"{e['method']}\", "
        f"\"{e['path'].removeprefix('/api/v1')}\", example=Call(...), errors={{CODE: Call(...)}})` in "
        f"{routes_module(e['group'])}"
        for e in ENDPOINTS
        if _key(e["method"], e["path"]) not in routes
    ]
    assert not missing, "\n".join(missing)


def test_every_endpoint_that_acts_is_audited() -> None:
    """The audit line comes from the declaration: server/call/audit_step.py records every call of a tool whose
    Effect is mutating (the registry makes those planned). An endpoint the contract marks destructive must be
    declared so, or its calls would leave no audit line (the registry already refuses a mutating tool without
    a plan, and argument values are hashed unless server/audit.py keeps them by name: no edit per tool)."""
    missing = [
        f"{_label(e)}: {spec.name} is declared Effect.{spec.effect.name}, so it is never audited; the contract "
        f"marks it destructive: declare it with a mutating Effect (WRITE, SEND, DELETE or ADMIN) and a plan= "
        f"in tools/{spec.toolset}.py"
        for e, spec in _owned()
        if e["destructive"] and not spec.effect.mutating
    ]
    assert not missing, "\n".join(missing)


def _placeholder(value: Any) -> Any:
    """An example value as a stand-in the argument model accepts (no sandbox here: that is test_examples)."""
    from msgflash_mcp.sandbox import seed

    if isinstance(value, Seed):
        return getattr(seed, value.name)
    if isinstance(value, Later):
        return "2099-01-01T00:00:00+00:00"
    if isinstance(value, Made):
        return "00000000-0000-4000-8000-000000000001"
    if isinstance(value, dict):
        return {key: _placeholder(item) for key, item in cast(dict[str, Any], value).items()}
    if isinstance(value, list | tuple):
        return [_placeholder(item) for item in cast(list[Any], value)]
    return value


def test_every_tool_declares_an_example_its_arguments_accept() -> None:
    """The declaration's example drives the audit line test, the output-schema test and test_examples: a tool
    with required arguments and no `example=` (or a stale one) is named here, with where to add it."""
    problems: list[str] = []
    for spec in SPECS:
        try:
            spec.input.model_validate(_placeholder(dict(spec.example.args)))
        except ValidationError as exc:
            problems.append(
                f"{spec.name}: its example is not a valid call ({exc.error_count()} error(s), first: "
                f"{exc.errors()[0]['loc']} {exc.errors()[0]['msg']}); declare `example=Example({{...}})` on "
                f"@toolset.tool in tools/{spec.toolset}.py"
            )
    assert not problems, "\n".join(problems)


def test_every_endpoint_has_a_behaviour_test() -> None:
    tests = {path: path.read_text() for path in sorted(BEHAVIOUR_TESTS.glob("test_*.py"))}
    missing = [
        f"{_label(e)}: no test in tests/tools/ calls {spec.name}; add one to tests/tools/test_{spec.toolset}.py "
        f"(e.g. `await call_ok(client, \"{spec.name}\", {{...}})` on the sandbox, asserting what it answers)"
        for e, spec in _owned()
        if not any(_calls(spec.name).search(text) for text in tests.values())
    ]
    assert not missing, "\n".join(missing)
