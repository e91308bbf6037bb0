"""Contract tests driven by endpoints.json: every endpoint has a route, answers its documented
example with the documented status and field names, and every documented error code is reachable.

The calls come from the routes themselves (`@route(..., example=Call(...), errors={CODE: Call(...)})` in
sandbox/routes/<group>.py, vocabulary in sandbox/routes/base.py): a new endpoint adds no entry here, and a
documented example or error code without its call fails a test that names the module to edit."""

from __future__ import annotations

import re
from typing import Any

import httpx2
import pytest
from msgflash_mcp.sandbox.keys import TEAM_ID
from msgflash_mcp.sandbox.routes import ALL_ROUTES, RouteSpec
from msgflash_mcp.sandbox.routes.base import MISSING, Call, Made

from .helpers import ENDPOINTS, PERSONAL, TEAM, client_for, error_code, make_app, routes_module

pytestmark = pytest.mark.anyio

# Exercised on every endpoint by the generic tests below, not by a call per route.
GENERIC = {"UNAUTHORIZED", "API_RATE_LIMIT_EXCEEDED", "MONTHLY_API_REQUEST_QUOTA_EXCEEDED", "TEAM_KEY_REQUIRED", "TEAM_KEY_NOT_ALLOWED"}
ROUTES = {(spec.method, spec.path): spec for spec in ALL_ROUTES}
HTTP = {e["code"]: e["http"] for ep in ENDPOINTS for e in ep["errors"]}


def key(ep: dict[str, Any]) -> tuple[str, str]:
    return ep["method"], ep["path"]


def where(spec: RouteSpec) -> str:
    return f"sandbox/routes/{spec.handler.__module__.rsplit('.', 1)[-1]}.py"


def route_of(ep: dict[str, Any]) -> RouteSpec:
    spec = ROUTES.get(key(ep))
    if spec is None:
        pytest.fail(f"{ep['method']} {ep['path']}: the sandbox does not serve it; add its @route in {routes_module(ep['group'])}")
    return spec


def field_of(data: Any, dotted: str) -> str:
    for part in dotted.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return str(data)


async def prepare(c: httpx2.AsyncClient, spec: RouteSpec, call: Call) -> str:
    """Put the sandbox in the state the call needs; return the request's path."""
    ident = call.id if isinstance(call.id, str) else None
    made: Any = None
    for req in call.first:
        r = await c.request(req.method, "/api/v1" + req.path.replace("{id}", ident or MISSING), json=req.body)
        assert r.status_code < 300, f"{where(spec)}: {spec.method} {spec.path}: its first request {req.method} {req.path} answered {r.status_code}: {r.text}"
        made = r.json()["data"]
    if isinstance(call.id, Made):
        ident = field_of(made, call.id.field)
    if call.account is not None:
        account = dict(call.account)
        if "plan" in account:  # a cheaper plan: start the month afresh so only the gate under test trips
            account.setdefault("usage", {"apiRequestsCount": 0, "messagesCount": 0, "statusesCount": 0})
        assert (await c.post("/_sandbox/account", json=account)).status_code == 200
    if call.clock:
        assert (await c.post("/_sandbox/clock", json={"advance": call.clock})).status_code == 200
    path = re.sub(r"\{\w+\}", ident or MISSING, spec.path)
    return f"{path}?{call.query}" if call.query else path


def shape_keys(shape: Any) -> set[str]:
    if isinstance(shape, dict):
        return {k for k in shape if not k.startswith("_")}
    return set()


def check_shape(expected: Any, actual: Any, where: str) -> None:
    """Documented field names must be present (recursively through the first list item)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for k in shape_keys(expected):
            assert k in actual, f"{where}: missing {k!r}"
            if k == "summary":  # keys follow the job's operation
                continue
            check_shape(expected[k], actual[k], f"{where}.{k}")
    elif isinstance(expected, list) and expected and isinstance(actual, list) and actual:
        check_shape(expected[0], actual[0], where + "[0]")


def test_every_endpoint_has_a_route() -> None:
    app = make_app()
    sb = app.state.sandbox
    # Both ways, without a count to edit: every documented endpoint is served, and nothing else is.
    documented = {key(ep) for ep in ENDPOINTS}
    problems = [f"{ep['method']} {ep['path']}: the sandbox does not serve it; add its @route in {routes_module(ep['group'])}"
                for ep in ENDPOINTS if key(ep) not in ROUTES]
    problems += [f"{s.method} {s.path}: served by {where(s)} but not in api-contract/endpoints.json; add it there "
                 "(and to REFERENCE.md)" for s in ALL_ROUTES if (s.method, s.path) not in documented]
    assert not problems, "\n".join(problems)
    for ep in ENDPOINTS:
        concrete = re.sub(r"\{\w+\}", MISSING, ep["path"])
        spec, _ = sb.match(ep["method"], concrete)
        assert spec.path == ep["path"]


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: f"{e['method']} {e['path']}")
async def test_documented_example(ep: dict[str, Any]) -> None:
    spec = route_of(ep)
    app = make_app()
    async with client_for(app) as c:
        path = await prepare(c, spec, spec.example)
        r = await c.request(ep["method"], path, json=spec.example.body)
        assert r.status_code == ep["success_status"], (
            f"{ep['method']} {ep['path']} answered its example with {r.status_code}, the contract says "
            f"{ep['success_status']}: {r.text}\nDeclare or fix `example=Call(...)` on its @route in {where(spec)}")
        body = r.json()
        assert "data" in body
        expected = ep["response_shape"]
        if isinstance(expected, dict) and isinstance(expected.get("data"), dict | list):
            check_shape(expected["data"], body["data"], ep["path"])


# ---------------------------------------------------------------------------------------------- error codes

TRIGGERS = [(spec, code, call) for spec in ALL_ROUTES for code, call in spec.errors.items()]


def test_every_documented_error_code_is_exercised() -> None:
    problems = []
    for ep in ENDPOINTS:
        spec = ROUTES.get(key(ep))
        if spec is None:
            continue  # test_every_endpoint_has_a_route names it
        documented = {e["code"] for e in ep["errors"]} - GENERIC
        lacking, extra = documented - set(spec.errors), set(spec.errors) - documented
        if lacking:
            problems.append(f"{ep['method']} {ep['path']}: no call gets {', '.join(sorted(lacking))}; add "
                            f"`errors={{CODE: Call(...)}}` on its @route in {where(spec)}")
        if extra:
            problems.append(f"{ep['method']} {ep['path']}: its @route in {where(spec)} has calls for "
                            f"{', '.join(sorted(extra))}, which api-contract/endpoints.json does not document for it")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("spec", "code", "call"), TRIGGERS, ids=[f"{s.method} {s.path} {code}" for s, code, _ in TRIGGERS])
async def test_error_case(spec: RouteSpec, code: str, call: Call) -> None:
    app = make_app()
    async with client_for(app) as c:
        path = await prepare(c, spec, call)
        if call.fault:
            rule = {"method": spec.method, "path": spec.path, "action": "status", "status": HTTP[code], "code": code}
            assert (await c.post("/_sandbox/faults", json=rule)).status_code == 200
        before = len([e for e in app.state.sandbox.ledger if e["committed"]])
        r = await c.request(spec.method, path, json=call.body)
        assert error_code(r) == code, f"{spec.method} {spec.path}: its call for {code} in {where(spec)} answered {r.text}"
        assert r.status_code == HTTP[code]
        env = r.json()["error"]
        assert set(env) == {"code", "message", "details"} and isinstance(env["details"], list)
        if not call.fault:  # an injected "status" fault commits nothing either
            assert len([e for e in app.state.sandbox.ledger if e["committed"]]) == before


# ---------------------------------------------------------------------------------------------- generic codes

PERSONAL_ONLY = [ep for ep in ENDPOINTS if ep["personal_key_only"]]


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: f"{e['method']} {e['path']}")
async def test_generic_auth_errors_on_every_endpoint(ep: dict[str, Any]) -> None:
    app = make_app()
    path = re.sub(r"\{\w+\}", MISSING, ep["path"])
    async with client_for(app, headers={}) as c:
        r = await c.request(ep["method"], path)
        assert (r.status_code, error_code(r)) == (401, "UNAUTHORIZED")
        r = await c.request(ep["method"], path, headers={**PERSONAL, "X-Team-Id": TEAM_ID})
        assert (r.status_code, error_code(r)) == (403, "TEAM_KEY_REQUIRED")
        r = await c.request(ep["method"], path, headers={"x-api-key": TEAM["x-api-key"]})
        assert (r.status_code, error_code(r)) == (401, "UNAUTHORIZED")
        r = await c.request(ep["method"], path, headers=TEAM)
        if ep["personal_key_only"]:
            assert (r.status_code, error_code(r)) == (403, "TEAM_KEY_NOT_ALLOWED")
        else:
            assert error_code(r) not in {"TEAM_KEY_NOT_ALLOWED", "UNAUTHORIZED", "TEAM_KEY_REQUIRED"}
        await c.post("/_sandbox/account", json={"usage": {"apiRequestsCount": 50000}})
        r = await c.request(ep["method"], path, headers=PERSONAL)
        assert (r.status_code, error_code(r)) == (429, "MONTHLY_API_REQUEST_QUOTA_EXCEEDED")
    assert app.state.sandbox.ledger[-1]["code"] == "MONTHLY_API_REQUEST_QUOTA_EXCEEDED"


async def test_rate_limit_code_on_every_endpoint() -> None:
    from tests.fake_time import FakeClock

    mono = FakeClock()
    app = make_app(rate_limit=10, burst=1, monotonic=mono.monotonic)
    async with client_for(app) as c:
        for ep in ENDPOINTS:
            mono.advance(1.0)
            path = re.sub(r"\{\w+\}", MISSING, ep["path"])
            await c.request(ep["method"], path)
            r = await c.request(ep["method"], path)
            assert (r.status_code, error_code(r)) == (429, "API_RATE_LIMIT_EXCEEDED")
            assert r.json() == {"error": {"code": "API_RATE_LIMIT_EXCEEDED", "message": "Too many API requests"}}
            assert r.headers["Retry-After"] == "1"
