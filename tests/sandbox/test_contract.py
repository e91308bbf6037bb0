"""Contract tests driven by endpoints.json: every endpoint has a route, answers its documented
example with the documented status and field names, and every documented error code is reachable."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from msgflash_mcp.sandbox import seed as S
from msgflash_mcp.sandbox.keys import TEAM_ID
from msgflash_mcp.sandbox.routes import ALL_ROUTES

from .helpers import ENDPOINTS, PERSONAL, TEAM, client_for, error_code, make_app

pytestmark = pytest.mark.anyio

PC = S.PERSONAL_CONNECTED_INSTANCE_ID
PD = S.PERSONAL_DISCONNECTED_INSTANCE_ID
MISSING = str(uuid.UUID(int=1))
GENERIC = {"UNAUTHORIZED", "API_RATE_LIMIT_EXCEEDED", "MONTHLY_API_REQUEST_QUOTA_EXCEEDED", "TEAM_KEY_REQUIRED", "TEAM_KEY_NOT_ALLOWED"}
# Only the real provider/team permissions produce these: reachable through the faults API.
PROVIDER_ONLY = {"INSTANCE_NOT_ASSIGNED", "PROVIDER_TIMEOUT", "PROVIDER_UNAVAILABLE"}
HUNDRED = [str(uuid.UUID(int=i + 1000)) for i in range(120)]


def key(ep: dict[str, Any]) -> tuple[str, str]:
    return ep["method"], ep["path"]


async def make_ids(c: httpx2.AsyncClient) -> dict[str, str]:
    """Objects the examples refer to (ids for {id}-style params, per group)."""
    msgs = (await c.get("/api/v1/messages")).json()["data"]["messages"]
    job = (await c.post("/api/v1/contacts/bulk-delete", json={"contactIds": HUNDRED})).json()["data"]
    numbers = [f"+336123451{i:02d}" for i in range(100)]
    lk = (await c.post("/api/v1/number-lookups", json={"instanceId": PC, "numbers": numbers})).json()["data"]
    return {"message": msgs[0]["id"], "job": job["jobId"], "lookup": lk["lookupId"]}


def fill(path: str, ids: dict[str, str]) -> str:
    group = path.split("/")[3]
    if "{jobId}" in path:
        return path.replace("{jobId}", ids["job"])
    if "{groupId}" in path:
        return path.replace("{groupId}", S.VIP_GROUP_ID)
    value = {
        "messages": ids["message"], "campaigns": S.SCHEDULED_CAMPAIGN_ID, "templates": S.PROMO_TEMPLATE_ID,
        "contacts": S.AWA_CONTACT_ID, "webhooks": S.DEMO_WEBHOOK_ID, "instances": PC, "number-lookups": ids["lookup"],
    }.get(group, MISSING)
    return path.replace("{id}", value)


EXAMPLE_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/messages/send"): {"instanceId": PC, "to": "+33612345678", "type": "text", "text": "Hello"},
    ("POST", "/api/v1/messages/schedule"): {
        "instanceId": PC, "to": "+33612345678", "type": "buttons", "title": "RDV", "description": "Confirmez",
        "buttons": [{"type": "reply", "displayText": "Confirmer", "id": "confirm_appointment"}],
        "scheduledAt": "2026-04-12T08:00:00.000Z"},
    ("POST", "/api/v1/campaigns"): {"instanceId": PC, "name": "Promo Black Friday", "schedule": "2026-04-12T10:00:00.000Z",
                                    "repeat": "noe", "recipients": {"type": "all"}, "templateId": S.PROMO_TEMPLATE_ID,
                                    "variables": {"code": "BF20"}},
    ("POST", "/api/v1/templates"): {"name": "Relance panier", "type": "text", "body": "Hello {{contact.firstName}}"},
    ("PUT", "/api/v1/templates/{id}"): {"body": "Hi {{contact.firstName}}, code {{custom.code}}"},
    ("POST", "/api/v1/templates/{id}/preview"): {"contactId": S.AWA_CONTACT_ID, "variables": {"code": "PROMO10"}},
    ("POST", "/api/v1/contacts"): {"name": "Awa Doe", "phone": "+33612345100", "tags": ["vip"]},
    ("PUT", "/api/v1/contacts/{id}"): {"tags": ["vip", "customer"], "meta": {"city": "Lyon"}},
    ("POST", "/api/v1/contacts/bulk-delete"): {"contactIds": [S.AWA_CONTACT_ID, MISSING]},
    ("POST", "/api/v1/contacts/groups"): {"name": "Clients VIP", "description": "...", "color": "#F59E0B"},
    ("PUT", "/api/v1/contacts/groups/{groupId}"): {"description": "Updated"},
    ("POST", "/api/v1/contacts/groups/{groupId}/members"): {"contactIds": [S.contact_id("+33612345001"), S.AWA_CONTACT_ID]},
    ("DELETE", "/api/v1/contacts/groups/{groupId}/members"): {"contactIds": [S.AWA_CONTACT_ID, S.contact_id("+33612345001")]},
    ("POST", "/api/v1/webhooks"): {"url": "https://example.com/webhooks/msgflash", "events": ["message.delivered", "message.failed", "message.read"]},
    ("POST", "/api/v1/statuses"): {"instanceId": PC, "type": "text", "content": "Nouveautés !", "backgroundColor": "#00a884"},
    ("POST", "/api/v1/number-lookups"): {"instanceId": PC, "numbers": ["+33612345678", "+33612345679"]},
    ("POST", "/api/v1/number-lookups/{id}/import-contacts"): {"tag": "verified-whatsapp"},
}
PAUSED_FIRST = {("POST", "/api/v1/campaigns/{id}/resume")}


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
    assert {(s.method, s.path) for s in ALL_ROUTES} == {(ep["method"], ep["path"]) for ep in ENDPOINTS}
    for ep in ENDPOINTS:
        concrete = re.sub(r"\{\w+\}", MISSING, ep["path"])
        spec, _ = sb.match(ep["method"], concrete)
        assert spec.path == ep["path"]


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: f"{e['method']} {e['path']}")
async def test_documented_example(ep: dict[str, Any]) -> None:
    app = make_app()
    async with client_for(app) as c:
        ids = await make_ids(c)
        path = fill(ep["path"], ids)
        if key(ep) in PAUSED_FIRST:
            assert (await c.post(path.replace("/resume", "/pause"))).status_code == 200
        r = await c.request(ep["method"], path, json=EXAMPLE_BODIES.get(key(ep)))
        assert r.status_code == ep["success_status"], r.text
        body = r.json()
        assert "data" in body
        expected = ep["response_shape"]
        if isinstance(expected, dict) and isinstance(expected.get("data"), dict | list):
            check_shape(expected["data"], body["data"], ep["path"])


# ---------------------------------------------------------------------------------------------- error codes


@dataclass
class Case:
    method: str
    path: str  # template from endpoints.json
    code: str
    body: Any = None
    account: dict[str, Any] | None = None
    concrete: str | None = None  # overrides the filled path
    prep: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


SEND = "/api/v1/messages/send"
SCHED = "/api/v1/messages/schedule"
TXT = {"instanceId": PC, "to": "+33612345678", "type": "text", "text": "hi"}
TPL = {"instanceId": PC, "to": "+33612345000", "templateId": S.PROMO_TEMPLATE_ID}
FUTURE = "2026-05-01T00:00:00Z"
CAMP = {"instanceId": PC, "name": "c", "schedule": FUTURE, "recipients": {"type": "all"}, "type": "text", "body": "b"}

CASES: list[Case] = [
    Case("POST", SEND, "VALIDATION_ERROR", {"instanceId": PC, "type": "text", "text": "x"}),
    Case("POST", SEND, "TEMPLATE_INVALID", {**TPL, "variables": {"bad key": "x"}}),
    Case("POST", SEND, "TEMPLATE_VARIABLES_MISSING", TPL),
    Case("POST", SEND, "TEMPLATE_CONTEXT_UNAVAILABLE", {**TPL, "variables": {"code": "X"}, "contactId": MISSING}),
    Case("POST", SEND, "SUBSCRIPTION_INACTIVE", TXT, account={"subscriptionActive": False}),
    Case("POST", SEND, "NOT_FOUND", {**TXT, "instanceId": MISSING}),
    Case("POST", SEND, "MONTHLY_OUTBOUND_QUOTA_EXCEEDED", TXT, account={"usage": {"messagesCount": 5000}}),
    Case("POST", SEND, "INVALID_DESTINATION", {**TXT, "to": "+1234"}),
    Case("POST", SCHED, "VALIDATION_ERROR", {**TXT, "scheduledAt": "tomorrow"}),
    Case("POST", SCHED, "TEMPLATE_INVALID", {**TPL, "variables": {"x": {"nested": 1}}, "scheduledAt": FUTURE}),
    Case("POST", SCHED, "NOT_FOUND", {**TPL, "templateId": MISSING, "scheduledAt": FUTURE}),
    Case("POST", SCHED, "MONTHLY_OUTBOUND_QUOTA_EXCEEDED", {**TXT, "scheduledAt": FUTURE}, account={"usage": {"messagesCount": 4000, "statusesCount": 1000}}),
    Case("GET", "/api/v1/messages/{id}", "NOT_FOUND", concrete=f"/api/v1/messages/{MISSING}"),
    Case("POST", "/api/v1/campaigns", "VALIDATION_ERROR", {**CAMP, "templateId": S.PROMO_TEMPLATE_ID}),
    Case("POST", "/api/v1/campaigns", "CAMPAIGNS_NOT_AVAILABLE_ON_PLAN", CAMP, account={"plan": "free"}),
    Case("POST", "/api/v1/campaigns", "NOT_FOUND", {**CAMP, "instanceId": MISSING}),
    Case("POST", "/api/v1/campaigns", "MONTHLY_OUTBOUND_QUOTA_EXCEEDED", CAMP, account={"usage": {"messagesCount": 5000}}),
    Case("GET", "/api/v1/campaigns/{id}", "NOT_FOUND", concrete=f"/api/v1/campaigns/{MISSING}"),
    Case("GET", "/api/v1/campaigns/{id}", "CAMPAIGNS_NOT_AVAILABLE_ON_PLAN", account={"plan": "free"}),
    Case("POST", "/api/v1/campaigns/{id}/pause", "BAD_REQUEST", concrete=f"/api/v1/campaigns/{S.FINISHED_CAMPAIGN_ID}/pause"),
    Case("POST", "/api/v1/campaigns/{id}/pause", "NOT_FOUND", concrete=f"/api/v1/campaigns/{MISSING}/pause"),
    Case("POST", "/api/v1/campaigns/{id}/resume", "BAD_REQUEST"),
    Case("POST", "/api/v1/campaigns/{id}/resume", "NOT_FOUND", concrete=f"/api/v1/campaigns/{MISSING}/resume"),
    Case("GET", "/api/v1/campaigns/{id}/stats", "NOT_FOUND", concrete=f"/api/v1/campaigns/{MISSING}/stats"),
    Case("POST", "/api/v1/templates", "VALIDATION_ERROR", {"name": "x", "type": "image", "body": "no media"}),
    Case("POST", "/api/v1/templates", "TEMPLATE_INVALID", {"name": "x", "type": "text", "body": "Hi {{ foo.bar }}"}),
    Case("GET", "/api/v1/templates/{id}", "NOT_FOUND", concrete=f"/api/v1/templates/{MISSING}"),
    Case("PUT", "/api/v1/templates/{id}", "NOT_FOUND", {"name": "x"}, concrete=f"/api/v1/templates/{MISSING}"),
    Case("PUT", "/api/v1/templates/{id}", "VALIDATION_ERROR", {"type": "sticker"}),
    Case("PUT", "/api/v1/templates/{id}", "TEMPLATE_INVALID", {"body": "Hi {{contact.first name}}"}),
    Case("DELETE", "/api/v1/templates/{id}", "NOT_FOUND", concrete=f"/api/v1/templates/{MISSING}"),
    Case("POST", "/api/v1/templates/{id}/preview", "NOT_FOUND", {}, concrete=f"/api/v1/templates/{MISSING}/preview"),
    Case("POST", "/api/v1/templates/{id}/preview", "TEMPLATE_CONTEXT_UNAVAILABLE", {"contactId": MISSING}),
    Case("GET", "/api/v1/contacts", "VALIDATION_ERROR", concrete="/api/v1/contacts?limit=101"),
    Case("POST", "/api/v1/contacts", "VALIDATION_ERROR", {"name": "x", "phone": "0612345678"}),
    Case("POST", "/api/v1/contacts", "CONFLICT", {"name": "Twin", "phone": "+33612345000"}),
    Case("GET", "/api/v1/contacts/{id}", "NOT_FOUND", concrete=f"/api/v1/contacts/{MISSING}"),
    Case("PUT", "/api/v1/contacts/{id}", "NOT_FOUND", {"name": "x"}, concrete=f"/api/v1/contacts/{MISSING}"),
    Case("PUT", "/api/v1/contacts/{id}", "VALIDATION_ERROR", {"tags": "vip"}),
    Case("DELETE", "/api/v1/contacts/{id}", "NOT_FOUND", concrete=f"/api/v1/contacts/{MISSING}"),
    Case("POST", "/api/v1/contacts/bulk-delete", "VALIDATION_ERROR", {"contactIds": []}),
    Case("GET", "/api/v1/contacts/{id}/groups", "NOT_FOUND", concrete=f"/api/v1/contacts/{MISSING}/groups"),
    Case("POST", "/api/v1/contacts/groups", "VALIDATION_ERROR", {"name": "x", "color": "yellow"}),
    Case("POST", "/api/v1/contacts/groups", "MAX_CONTACT_GROUPS_REACHED", {"name": "x"}, account={"plan": "free"}),
    Case("GET", "/api/v1/contacts/groups/{groupId}", "NOT_FOUND", concrete=f"/api/v1/contacts/groups/{MISSING}"),
    Case("PUT", "/api/v1/contacts/groups/{groupId}", "NOT_FOUND", {"name": "x"}, concrete=f"/api/v1/contacts/groups/{MISSING}"),
    Case("PUT", "/api/v1/contacts/groups/{groupId}", "VALIDATION_ERROR", {"name": ""}),
    Case("PUT", "/api/v1/contacts/groups/{groupId}", "CONFLICT", {"name": "Leads"}),
    Case("DELETE", "/api/v1/contacts/groups/{groupId}", "NOT_FOUND", concrete=f"/api/v1/contacts/groups/{MISSING}"),
    Case("GET", "/api/v1/contacts/groups/{groupId}/members", "NOT_FOUND", concrete=f"/api/v1/contacts/groups/{MISSING}/members"),
    Case("POST", "/api/v1/contacts/groups/{groupId}/members", "NOT_FOUND", {"contactIds": [MISSING]}, concrete=f"/api/v1/contacts/groups/{MISSING}/members"),
    Case("POST", "/api/v1/contacts/groups/{groupId}/members", "VALIDATION_ERROR", {"contactIds": ["not-a-uuid"]}),
    Case("DELETE", "/api/v1/contacts/groups/{groupId}/members", "NOT_FOUND", {"contactIds": [MISSING]}, concrete=f"/api/v1/contacts/groups/{MISSING}/members"),
    Case("DELETE", "/api/v1/contacts/groups/{groupId}/members", "VALIDATION_ERROR", {"ids": [MISSING]}),
    Case("GET", "/api/v1/contacts/bulk-jobs/{jobId}", "NOT_FOUND", concrete=f"/api/v1/contacts/bulk-jobs/{MISSING}"),
    Case("GET", "/api/v1/contacts/bulk-jobs/{jobId}/progress", "NOT_FOUND", concrete=f"/api/v1/contacts/bulk-jobs/{MISSING}/progress"),
    Case("POST", "/api/v1/contacts/bulk-jobs/{jobId}/cancel", "NOT_FOUND", concrete=f"/api/v1/contacts/bulk-jobs/{MISSING}/cancel"),
    Case("POST", "/api/v1/contacts/bulk-jobs/{jobId}/cancel", "BAD_REQUEST", prep="finish_job"),
    Case("GET", "/api/v1/webhooks", "WEBHOOKS_NOT_AVAILABLE_ON_PLAN", account={"plan": "free"}),
    Case("POST", "/api/v1/webhooks", "VALIDATION_ERROR", {"url": "http://insecure.example.com/h", "events": ["message.sent"]}),
    Case("POST", "/api/v1/webhooks", "WEBHOOKS_NOT_AVAILABLE_ON_PLAN", {"url": "https://e.com/h", "events": ["message.sent"]}, account={"plan": "free"}),
    Case("POST", "/api/v1/webhooks", "MAX_WEBHOOK_ENDPOINTS_REACHED", {"url": "https://e.com/h", "events": ["message.sent"]}, prep="fill_webhooks"),
    Case("DELETE", "/api/v1/webhooks/{id}", "NOT_FOUND", concrete=f"/api/v1/webhooks/{MISSING}"),
    Case("POST", "/api/v1/statuses", "STATUSES_NOT_AVAILABLE_ON_PLAN", {"instanceId": PC, "type": "text", "content": "x"}, account={"plan": "starter"}),
    Case("POST", "/api/v1/statuses", "NOT_FOUND", {"instanceId": MISSING, "type": "text", "content": "x"}),
    Case("POST", "/api/v1/statuses", "MONTHLY_OUTBOUND_QUOTA_EXCEEDED", {"instanceId": PC, "type": "text", "content": "x"}, account={"usage": {"statusesCount": 5000}}),
    Case("POST", "/api/v1/statuses", "PROVIDER_ERROR", {"instanceId": PD, "type": "text", "content": "x"}),
    Case("GET", "/api/v1/instances/{id}", "NOT_FOUND", concrete=f"/api/v1/instances/{TEAM_ID}"),
    Case("GET", "/api/v1/instances/{id}/state", "NOT_FOUND", concrete=f"/api/v1/instances/{S.TEAM_INSTANCE_ID}/state"),
    Case("GET", "/api/v1/instances/{id}/health", "NOT_FOUND", concrete=f"/api/v1/instances/{MISSING}/health"),
    Case("POST", "/api/v1/number-lookups", "VALIDATION_ERROR", {"instanceId": PD, "numbers": ["+33612345678"]}),
    Case("POST", "/api/v1/number-lookups", "NOT_FOUND", {"instanceId": MISSING, "numbers": ["+33612345678"]}),
    Case("POST", "/api/v1/number-lookups", "PROVIDER_ERROR", {"instanceId": PC, "numbers": ["+33612345678"]}, prep="fault"),
    Case("GET", "/api/v1/number-lookups/{id}", "NOT_FOUND", concrete=f"/api/v1/number-lookups/{MISSING}"),
    Case("GET", "/api/v1/number-lookups/{id}/progress", "NOT_FOUND", concrete=f"/api/v1/number-lookups/{MISSING}/progress"),
    Case("POST", "/api/v1/number-lookups/{id}/cancel", "NOT_FOUND", concrete=f"/api/v1/number-lookups/{MISSING}/cancel"),
    Case("POST", "/api/v1/number-lookups/{id}/import-contacts", "NOT_FOUND", {}, concrete=f"/api/v1/number-lookups/{MISSING}/import-contacts"),
]
CASES += [Case("POST", SEND, code, TXT, prep="fault") for code in sorted(PROVIDER_ONLY)]

HTTP = {e["code"]: e["http"] for ep in ENDPOINTS for e in ep["errors"]}


def test_every_documented_error_code_is_exercised() -> None:
    covered: dict[tuple[str, str], set[str]] = {}
    for case in CASES:
        covered.setdefault((case.method, case.path), set()).add(case.code)
    missing = []
    for ep in ENDPOINTS:
        wanted = {e["code"] for e in ep["errors"]} - GENERIC
        lacking = wanted - covered.get(key(ep), set())
        if lacking:
            missing.append((key(ep), sorted(lacking)))
    assert not missing, missing


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path} {c.code}")
async def test_error_case(case: Case) -> None:
    app = make_app()
    async with client_for(app) as c:
        ids = await make_ids(c)
        if case.account:
            if "plan" in case.account:  # a cheaper plan: start the month afresh so only the gate under test trips
                case.account.setdefault("usage", {"apiRequestsCount": 0, "messagesCount": 0, "statusesCount": 0})
            assert (await c.post("/_sandbox/account", json=case.account)).status_code == 200
        if case.prep == "fault":
            rule = {"method": case.method, "path": case.path, "action": "status", "status": HTTP[case.code], "code": case.code}
            assert (await c.post("/_sandbox/faults", json=rule)).status_code == 200
        if case.prep == "finish_job":
            await c.post("/_sandbox/clock", json={"advance": 60})
        if case.prep == "fill_webhooks":
            for i in range(9):
                r = await c.post("/api/v1/webhooks", json={"url": f"https://e.com/{i}", "events": ["message.sent"]})
                assert r.status_code == 201
        path = case.concrete or fill(case.path, ids)
        before = len([e for e in app.state.sandbox.ledger if e["committed"]])
        r = await c.request(case.method, path, json=case.body, headers=case.headers or None)
        assert error_code(r) == case.code, r.text
        assert r.status_code == HTTP[case.code]
        env = r.json()["error"]
        assert set(env) == {"code", "message", "details"} and isinstance(env["details"], list)
        if case.prep != "fault":  # an injected "status" fault commits nothing either
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
