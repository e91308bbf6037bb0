"""Bad input, faults through the in-process transport, ledger, rate limiting, persistence, control."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx2
import pytest
from msgflash_mcp.sandbox import seed as S
from msgflash_mcp.sandbox.keys import PERSONAL_KEY

from tests.fake_time import FakeClock

from .helpers import PERSONAL, TEAM, client_for, error_code, make_app

pytestmark = pytest.mark.anyio
PC = S.PERSONAL_CONNECTED_INSTANCE_ID
SEND = {"instanceId": PC, "to": "+33612345678", "type": "text", "text": "hi"}


def committed(app: Any) -> int:
    return sum(1 for e in app.state.sandbox.ledger if e["committed"])


# ------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("path", [
    "/api/v1/contacts/..%2Fbilling", "/api/v1/contacts/%2e%2e", "/api/v1/contacts/a%2Fb", "/api/v1/contacts/not-a-uuid",
    "/api/v1/templates/%00", "/api/v1/contacts/groups/..%2F..%2Fme/members", "/api/v1/nowhere", "/api/v1",
])
async def test_path_tricks_are_404_and_write_nothing(api: httpx2.AsyncClient, app: Any, path: str) -> None:
    for method in ("GET", "PUT", "DELETE", "POST"):
        r = await api.request(method, path, json={"name": "x"})
        assert (r.status_code, error_code(r)) == (404, "NOT_FOUND"), (method, path, r.text)
    assert committed(app) == 0


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b'"text"', b"\xff\xfe", b"null", b'{"name": "x", "phone": 12}'])
async def test_malformed_bodies(api: httpx2.AsyncClient, app: Any, raw: bytes) -> None:
    r = await api.post("/api/v1/contacts", content=raw, headers={"content-type": "application/json"})
    assert (r.status_code, error_code(r)) == (400, "VALIDATION_ERROR")
    assert committed(app) == 0


async def test_validation_details_list_every_problem(api: httpx2.AsyncClient) -> None:
    r = await api.post("/api/v1/messages/send", json={"instanceId": "inst_uuid", "to": 5, "type": "sms", "colour": "red"})
    fields = {d["field"] for d in r.json()["error"]["details"]}
    assert r.status_code == 400 and fields >= {"instanceId", "to", "type", "colour"}
    r = await api.post("/api/v1/messages/send", json={**SEND, "type": "buttons", "text": None, "title": "t", "description": "d",
                                                      "buttons": [{"type": "url", "displayText": "x"}, {"type": "call"}, {"type": "reply"}]})
    assert error_code(r) == "VALIDATION_ERROR" and r.json()["error"]["details"][0]["message"] == "At most 2 buttons"
    r = await api.post("/api/v1/messages/send", json={**SEND, "type": "buttons", "text": None, "title": "t", "description": "d",
                                                      "buttons": [{"type": "url", "displayText": "x"}, {"title": "call", "displayText": "c"}]})
    assert {d["field"] for d in r.json()["error"]["details"]} == {"buttons[0].url", "buttons[1].phoneNumber"}
    for body in ({**SEND, "type": "image"}, {**SEND, "type": "location", "latitude": 95, "longitude": 0},
                 {**SEND, "type": "contact"}, {**SEND, "templateId": S.PROMO_TEMPLATE_ID}, {**SEND, "text": ""},
                 {**SEND, "text": "x" * 4097}, {**SEND, "latitude": True}):
        assert error_code(await api.post("/api/v1/messages/send", json=body)) == "VALIDATION_ERROR", body
    ok = await api.post("/api/v1/messages/send", json={**SEND, "type": "location", "latitude": 14.7, "longitude": -17.4, "text": None})
    assert ok.status_code == 201
    card = await api.post("/api/v1/messages/send", json={**SEND, "type": "contact", "contactId": str(uuid.uuid4()), "text": None})
    assert error_code(card) == "NOT_FOUND"


async def test_oversize_body_is_413(api: httpx2.AsyncClient, app: Any) -> None:
    r = await api.post("/api/v1/contacts", content=b'{"name": "' + b"x" * (1024 * 1024) + b'"}',
                       headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"] == {"code": "VALIDATION_ERROR", "message": "Request body too large", "details": []}
    assert committed(app) == 0


async def test_contact_rules(api: httpx2.AsyncClient) -> None:
    r = await api.post("/api/v1/contacts", json={"name": "Awa Doe", "phone": "+33612345100", "tags": ["vip"], "meta": {"k": 1}})
    c = r.json()["data"]
    assert r.status_code == 201 and c["phone"] == "+33612345100"
    dup = await api.post("/api/v1/contacts", json={"name": "Other", "phone": "+33612345100"})
    assert (dup.status_code, error_code(dup)) == (409, "CONFLICT")
    upd = (await api.put(f"/api/v1/contacts/{c['id']}", json={"tags": ["lead"], "meta": {"z": 2}})).json()["data"]
    assert upd["tags"] == ["lead"] and upd["meta"] == {"z": 2}
    assert error_code(await api.put(f"/api/v1/contacts/{c['id']}", json={"phone": "+33612345000"})) == "CONFLICT"
    assert error_code(await api.put(f"/api/v1/contacts/{c['id']}", json={"phone": "12"})) == "VALIDATION_ERROR"
    assert (await api.request("DELETE", f"/api/v1/contacts/{c['id']}")).status_code == 200
    assert (await api.get(f"/api/v1/contacts/{c['id']}")).status_code == 404


# ------------------------------------------------------------------------------------- faults


async def test_fault_status_and_after_commit(api: httpx2.AsyncClient, app: Any) -> None:
    await api.post("/_sandbox/faults", json={"path": "/api/v1/messages/*", "method": "POST", "action": "status",
                                              "status": 503, "code": "PROVIDER_UNAVAILABLE", "retry_after": 2})
    r = await api.post("/api/v1/messages/send", json=SEND)
    assert (r.status_code, error_code(r), r.headers["Retry-After"]) == (503, "PROVIDER_UNAVAILABLE", "2")
    assert committed(app) == 0
    await api.post("/_sandbox/faults", json=[{"path": "/api/v1/messages/send", "action": "after_commit", "status": 500}])
    r = await api.post("/api/v1/messages/send", json=SEND)
    assert (r.status_code, error_code(r)) == (500, "INTERNAL_ERROR")
    last = app.state.sandbox.ledger[-1]
    assert last["committed"] and last["object_id"] and last["fault"] == "after_commit" and last["status"] == 500
    got = await api.get(f"/api/v1/messages/{last['object_id']}")
    assert got.status_code == 200  # the message exists although the client saw a 500
    assert (await api.post("/api/v1/messages/send", json=SEND)).status_code == 201  # rules are used up


async def test_drop_connect_error_and_timeout(api: httpx2.AsyncClient, app: Any) -> None:
    await api.post("/_sandbox/faults", json={"path": "/api/v1/messages/send", "action": "drop"})
    with pytest.raises(httpx2.RemoteProtocolError):
        await api.post("/api/v1/messages/send", json=SEND)
    assert committed(app) == 0
    await api.post("/_sandbox/faults", json={"path": "/api/v1/messages/send", "action": "drop_after_commit"})
    with pytest.raises(httpx2.RemoteProtocolError):
        await api.post("/api/v1/messages/send", json=SEND)
    assert committed(app) == 1
    await api.post("/_sandbox/faults", json={"path": "/api/v1/contacts", "method": "GET", "action": "connect_error", "count": 2})
    for _ in range(2):
        with pytest.raises(httpx2.ConnectError):
            await api.get("/api/v1/contacts")
    assert (await api.get("/api/v1/contacts")).status_code == 200
    await api.post("/_sandbox/faults", json={"path": "/api/v1/messages/send", "action": "delay", "seconds": 30, "after_commit": True})
    with pytest.raises(httpx2.ReadTimeout):
        await api.post("/api/v1/messages/send", json=SEND, timeout=httpx2.Timeout(5.0, read=0.05))
    assert committed(app) == 2
    await api.post("/_sandbox/faults", json={"path": "/api/v1/me", "action": "delay", "seconds": 0.01})
    assert (await api.get("/api/v1/me", timeout=5.0)).status_code == 200
    faults = [e["fault"] for e in app.state.sandbox.ledger if e["fault"]]
    assert faults == ["drop", "drop_after_commit", "connect_error", "connect_error", "delay", "delay"]
    await api.post("/_sandbox/faults", json={"action": "status", "count": None})
    assert (await api.get("/_sandbox/faults")).json()["data"]
    await api.request("DELETE", "/_sandbox/faults")
    assert (await api.get("/api/v1/me")).status_code == 200
    assert error_code(await api.post("/_sandbox/faults", json={"action": "explode"})) == "VALIDATION_ERROR"


async def test_ledger_entries(app: Any) -> None:
    async with client_for(app, {}) as c:
        await c.get("/api/v1/contacts?limit=2", headers=PERSONAL)
        await c.get("/api/v1/contacts", headers={"x-api-key": "msgf_live_" + "0" * 64})
        await c.get("/api/v1/contacts")
        await c.post("/api/v1/contacts", json={"name": "N", "phone": "+33612349999"}, headers=TEAM)
        data = (await c.get("/_sandbox/ledger")).json()["data"]
    assert [(e["key_kind"], e["status"], e["code"], e["committed"]) for e in data] == [
        ("personal", 200, None, False), ("invalid", 401, "UNAUTHORIZED", False), ("none", 401, "UNAUTHORIZED", False),
        ("team", 201, None, True)]
    assert data[0]["query"] == "limit=2" and data[3]["object_id"] and data[3]["team_id"]
    assert [e["seq"] for e in data] == [1, 2, 3, 4] and all(isinstance(e["time"], float) for e in data)
    assert PERSONAL_KEY not in str(data)


# ------------------------------------------------------------------------------------- rate limit


async def test_gcra_burst_and_retry_after() -> None:
    mono = FakeClock()
    app = make_app(rate_limit=10, burst=10, monotonic=mono.monotonic)
    async with client_for(app) as c:
        codes = [(await c.get("/api/v1/instances")).status_code for _ in range(12)]
        assert codes == [200] * 10 + [429, 429]
        r = await c.get("/api/v1/instances")
        assert r.headers["Retry-After"] == "1" and r.json()["error"]["message"] == "Too many API requests"
        mono.advance(0.1)
        assert (await c.get("/api/v1/instances")).status_code == 200  # one slot back per 100 ms
        assert (await c.get("/api/v1/instances")).status_code == 429
        # another key has its own budget; rejected requests were never counted or written
        async with client_for(app, TEAM) as t:
            assert (await t.get("/api/v1/instances")).status_code == 200
    rejected = [e for e in app.state.sandbox.ledger if e["status"] == 429]
    assert len(rejected) == 4 and not any(e["committed"] for e in rejected)


async def test_strict_and_fixed_windows() -> None:
    mono = FakeClock()
    app = make_app(rate_limit=10, burst=1, monotonic=mono.monotonic)
    async with client_for(app) as c:
        assert [(await c.get("/api/v1/me")).status_code for _ in range(2)] == [200, 429]
        mono.advance(0.1)
        assert (await c.get("/api/v1/me")).status_code == 200
    mono2 = FakeClock()
    app2 = make_app(rate_limit=3, rate_mode="fixed", monotonic=mono2.monotonic)
    async with client_for(app2) as c:
        assert [(await c.get("/api/v1/me")).status_code for _ in range(4)] == [200, 200, 200, 429]
        mono2.advance(1.0)
        assert (await c.get("/api/v1/me")).status_code == 200


async def test_rate_limited_write_commits_nothing() -> None:
    mono = FakeClock()
    app = make_app(rate_limit=1, burst=1, monotonic=mono.monotonic)
    async with client_for(app) as c:
        assert (await c.post("/api/v1/contacts", json={"name": "A", "phone": "+33612349001"})).status_code == 201
        r = await c.post("/api/v1/contacts", json={"name": "B", "phone": "+33612349002"})
        assert error_code(r) == "API_RATE_LIMIT_EXCEEDED"
        mono.advance(1)
        assert (await c.get("/api/v1/contacts?search=3361234900")).json()["data"]["total"] == 1


# ------------------------------------------------------------------------------------- persistence and control


async def test_file_database_persists_across_restarts(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.db")
    app1 = make_app(db_path=db)
    async with client_for(app1) as c:
        made = (await c.post("/api/v1/contacts", json={"name": "Kept", "phone": "+33612349100"})).json()["data"]
        await c.request("DELETE", f"/api/v1/templates/{S.WELCOME_TEMPLATE_ID}")
    app1.state.sandbox.db.close()
    app2 = make_app(db_path=db)
    async with client_for(app2) as c:
        assert (await c.get(f"/api/v1/contacts/{made['id']}")).json()["data"]["name"] == "Kept"
        assert (await c.get(f"/api/v1/templates/{S.WELCOME_TEMPLATE_ID}")).status_code == 404
        assert (await c.get("/api/v1/contacts")).json()["data"]["total"] == 21  # not re-seeded
    app2.state.sandbox.db.close()


async def test_reset_and_clock_control(api: httpx2.AsyncClient, app: Any, clock: FakeClock) -> None:
    await api.post("/api/v1/contacts", json={"name": "Temp", "phone": "+33612349200"})
    assert (await api.post("/_sandbox/reset")).status_code == 200
    assert (await api.get("/api/v1/contacts")).json()["data"]["total"] == 20
    assert len(app.state.sandbox.ledger) == 1
    now = (await api.post("/_sandbox/clock", json={"advance": 90})).json()["data"]["now"]
    assert now == "2026-04-10T12:01:30.000Z"
    now = (await api.post("/_sandbox/clock", json={"set": "2026-05-01T00:00:00Z"})).json()["data"]["now"]
    assert now == "2026-05-01T00:00:00.000Z" and app.state.sandbox.clock.now().month == 5
    # a new month starts with fresh usage
    assert (await api.get("/api/v1/usage")).json()["data"]["usage"]["messagesCount"] == 0
    assert error_code(await api.post("/_sandbox/clock", json={"set": "soon"})) == "VALIDATION_ERROR"
    r = await api.post(f"/_sandbox/instances/{PC}", json={"status": "disconnected"})
    assert r.json()["data"]["status"] == "disconnected"
    state = (await api.get(f"/api/v1/instances/{PC}/state")).json()["data"]
    assert state == {"instanceId": PC, "status": "disconnected", "providerState": "close"}
    info = (await api.get("/_sandbox/info")).json()["data"]
    assert info["ids"]["VIP_GROUP_ID"] == S.VIP_GROUP_ID


async def test_control_surface_can_be_turned_off() -> None:
    app = make_app(control=False)
    async with client_for(app) as c:
        r = await c.get("/_sandbox/ledger")
        assert (r.status_code, error_code(r)) == (404, "NOT_FOUND")


def test_real_clock_default() -> None:
    app = make_app(now=None)
    assert app.state.sandbox.clock.now().year >= 2026
    assert FakeClock().now().year == 2026
