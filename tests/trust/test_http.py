"""Streamable HTTP hardening, driven in-process: bearer token, Host/Origin, body size, no header passthrough, bind."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from msgflash_mcp.sandbox.inprocess import sandbox_transport
from msgflash_mcp.sandbox.keys import TEAM_ID, TEAM_NAME
from msgflash_mcp.server.__main__ import parse
from msgflash_mcp.server.transport import serve
from msgflash_mcp.server.transport.serve import http_app, is_loopback, serve_mcp

from ..conftest import make_settings
from ..fake_time import FakeClock
from .requirements import requirement

pytestmark = pytest.mark.anyio

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
TOKEN = "trust-http-token-" + "9" * 16
INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


class Recorder(httpx2.AsyncBaseTransport):
    """Between the MCP server and the sandbox: keeps every outgoing request's headers."""

    def __init__(self, app: Any) -> None:
        self._inner = sandbox_transport(app)
        self.headers: list[dict[str, str]] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        return await self._inner.handle_async_request(request)


@asynccontextmanager
async def running(app: Any) -> AsyncIterator[httpx2.AsyncClient]:
    """The ASGI app with its lifespan running, and an HTTP client talking to it in-process."""
    with anyio.fail_after(30):
        async with app.router.lifespan_context(app):
            transport = httpx2.ASGITransport(app=app)
            async with httpx2.AsyncClient(transport=transport, base_url=BASE, timeout=10) as http:
                yield http


def make_app(sandbox_app: Any, *, token: str | None = TOKEN, recorder: Recorder | None = None) -> Any:
    settings = make_settings(**({"http_token": token} if token else {}))
    build: dict[str, Any] = {"http_transport": recorder} if recorder else {"sandbox_app": sandbox_app}
    return http_app(settings, host="127.0.0.1", port=PORT, **build)


@requirement("proto.http-bearer")
async def test_bearer_token_is_required_when_configured(sandbox_app: Any) -> None:
    async with running(make_app(sandbox_app)) as http:
        missing = await http.post("/mcp", json=INIT, headers=MCP_HEADERS)
        wrong = await http.post("/mcp", json=INIT, headers={**MCP_HEADERS, "authorization": "Bearer nope"})
        right = await http.post("/mcp", json=INIT, headers={**MCP_HEADERS, "authorization": f"Bearer {TOKEN}"})
    assert missing.status_code == 401 and wrong.status_code == 401
    assert "bearer" in missing.headers.get("www-authenticate", "").lower()
    assert TOKEN not in missing.text + wrong.text
    assert right.status_code == 200, right.text
    assert sandbox_app.state.sandbox.ledger == []


@requirement("proto.http-bearer")
async def test_several_tokens_name_several_principals() -> None:
    verifier = serve.StaticTokenVerifier("tok-a, tok-b", b"install-key")
    a, b = await verifier.verify_token("tok-a"), await verifier.verify_token("tok-b")
    assert a is not None and b is not None and a.subject != b.subject
    assert await verifier.verify_token("tok-c") is None and await verifier.verify_token("") is None


@requirement("proto.dns-rebinding")
@pytest.mark.parametrize("token", [TOKEN, None])
async def test_foreign_host_gets_421_and_foreign_origin_403(sandbox_app: Any, token: str | None) -> None:
    auth = {"authorization": f"Bearer {TOKEN}"} if token else {}
    async with running(make_app(sandbox_app, token=token)) as http:
        host = await http.post("/mcp", json=INIT, headers={**MCP_HEADERS, **auth, "host": "evil.example"})
        host_port = await http.post("/mcp", json=INIT, headers={**MCP_HEADERS, **auth, "host": "127.0.0.1.nip.io:8765"})
        origin = await http.post("/mcp", json=INIT, headers={**MCP_HEADERS, **auth, "origin": "http://evil.example"})
        ok_origin = await http.post("/mcp", json=INIT, headers={**MCP_HEADERS, **auth, "origin": BASE})
        local = await http.post("/mcp", json=INIT, headers={**MCP_HEADERS, **auth, "host": f"localhost:{PORT}"})
    assert host.status_code == 421 and host_port.status_code == 421
    assert origin.status_code == 403
    assert ok_origin.status_code == 200 and local.status_code == 200


@requirement("proto.http-body-limit")
async def test_oversize_body_gets_413(sandbox_app: Any) -> None:
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + b"x" * (4 * 1024 * 1024 + 10) + b'"}}'
    async with running(make_app(sandbox_app)) as http:
        response = await http.post("/mcp", content=body, headers={**MCP_HEADERS, "authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 413
    assert sandbox_app.state.sandbox.ledger == []


@requirement("cred.no-passthrough")
async def test_client_credential_headers_never_reach_the_api(sandbox_app: Any) -> None:
    smuggled_key = "msgf_live_" + "0f" * 32
    smuggled_team = "00000000-0000-4000-8000-00000000beef"
    recorder = Recorder(sandbox_app)
    app = make_app(sandbox_app, recorder=recorder)
    headers = {
        "authorization": f"Bearer {TOKEN}",
        "x-api-key": smuggled_key,
        "x-team-id": smuggled_team,
        "x-msgflash-base-url": "http://evil.invalid",
    }
    with anyio.fail_after(30):
        async with app.router.lifespan_context(app):
            http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE, headers=headers, timeout=10)
            async with http, Client(streamable_http_client(f"{BASE}/mcp", http_client=http)) as client:
                for name, args in [("list_instances", {}), ("list_contacts", {"workspace": TEAM_NAME}), ("get_usage", {})]:
                    result = await client.call_tool(name, args)
                    assert not result.is_error, result.content
    assert len(recorder.headers) >= 3
    for sent in recorder.headers:
        assert "authorization" not in sent
        assert TOKEN not in str(sent) and smuggled_key not in str(sent) and smuggled_team not in str(sent)
        assert sent.get("x-api-key", "").startswith(("msgf_live_5a5a", "msgf_team_7e7e"))
        assert sent.get("x-team-id") in (None, TEAM_ID)
    ledger = sandbox_app.state.sandbox.ledger
    assert {e["key_kind"] for e in ledger} <= {"personal", "team"}
    assert {e["team_id"] for e in ledger} <= {None, TEAM_ID}


@requirement("proto.dns-rebinding")
def test_default_bind_is_loopback() -> None:
    args = parse(["--transport", "http"])
    assert args.host == "127.0.0.1" and is_loopback(args.host)
    assert inspect.signature(http_app).parameters["host"].default == "127.0.0.1"
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert is_loopback(host)
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.com"):
        assert not is_loopback(host)


@requirement("proto.http-bind-warning")
@pytest.mark.parametrize(("host", "token", "loud"), [
    ("0.0.0.0", None, True), ("192.168.1.10", TOKEN, True), ("127.0.0.1", None, False),
])
def test_non_loopback_bind_warns_loudly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, host: str, token: str | None, loud: bool
) -> None:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))  # never binds
    caplog.set_level(logging.WARNING)
    settings = make_settings(**({"http_token": token} if token else {}))
    serve_mcp(settings, transport="http", host=host, port=PORT)
    assert calls == [{"host": host, "port": PORT, "log_level": "warning"}]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "not loopback" in r.getMessage()]
    assert bool(warnings) is loud
    if loud:
        assert host in warnings[0]
        assert ("MSGFLASH_HTTP_TOKEN is not set" in warnings[0]) is (token is None)
        assert not token or token not in warnings[0]


@requirement("guard.principal")
async def test_a_token_minted_for_one_bearer_principal_is_useless_to_another(sandbox_app: Any) -> None:
    settings = make_settings(http_token="tok-alice-0123456789, tok-bob-0123456789")
    app = http_app(settings, host="127.0.0.1", port=PORT, sandbox_app=sandbox_app)

    @asynccontextmanager
    async def as_principal(token: str) -> AsyncIterator[Client]:
        http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE, timeout=10,
                                  headers={"authorization": f"Bearer {token}"})
        async with http, Client(streamable_http_client(f"{BASE}/mcp", http_client=http)) as client:
            yield client

    with anyio.fail_after(30):
        async with app.router.lifespan_context(app), as_principal("tok-alice-0123456789") as alice, \
                as_principal("tok-bob-0123456789") as bob:
            contacts = (await alice.call_tool("list_contacts", {"limit": 1})).structured_content or {}
            data = contacts["data"]
            items = data if isinstance(data, list) else next(v for v in data.values() if isinstance(v, list))
            args = {"contact_id": items[0]["id"]}
            preview = (await alice.call_tool("delete_contact", args)).structured_content or {}
            assert preview["status"] == "confirmation_required" and preview["confirm_token"]
            stolen = await bob.call_tool("delete_contact", {**args, "confirm_token": preview["confirm_token"]})
            assert stolen.is_error or (stolen.structured_content or {}).get("status") != "ok"
            assert not [e for e in sandbox_app.state.sandbox.ledger if e.get("committed")]
            # The rightful principal still can: the refusal was about who, not a broken token.
            own = await alice.call_tool("delete_contact", {**args, "confirm_token": preview["confirm_token"]})
            assert not own.is_error and (own.structured_content or {}).get("status") == "ok", own.content
    assert len([e for e in sandbox_app.state.sandbox.ledger if e.get("committed")]) == 1


@requirement("proto.dns-rebinding")
async def test_allowed_hosts_admit_a_proxied_public_name(monkeypatch: pytest.MonkeyPatch, sandbox_app: Any) -> None:
    """MSGFLASH_ALLOWED_HOSTS: behind a proxy the public name passes the Host/Origin checks; others still fail."""
    monkeypatch.setenv("MSGFLASH_ALLOWED_HOSTS", "mcp.example.com")
    base = "http://127.0.0.1:8765"
    from msgflash_mcp.server.transport.serve import http_app

    from tests.conftest import make_settings as settings_for

    app = http_app(settings_for(), sandbox_app=sandbox_app)
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    with anyio.fail_after(20):
        transport = httpx2.ASGITransport(app=app)
        async with app.router.lifespan_context(app), httpx2.AsyncClient(transport=transport, base_url=base) as http:
            good = await http.post("/mcp", json=body, headers={**headers, "host": "mcp.example.com",
                                                               "origin": "https://mcp.example.com"})
            evil_host = await http.post("/mcp", json=body, headers={**headers, "host": "evil.example"})
            evil_origin = await http.post("/mcp", json=body, headers={**headers, "host": "mcp.example.com",
                                                                      "origin": "https://evil.example"})
    assert good.status_code not in (421, 403)
    assert evil_host.status_code == 421
    assert evil_origin.status_code == 403


# ---------------------------------------------------------------- sessions per client (transport/session_cap.py)


async def open_session(http: httpx2.AsyncClient, token: str | None) -> httpx2.Response:
    auth = {"authorization": f"Bearer {token}"} if token else {}
    return await http.post("/mcp", json=INIT, headers={**MCP_HEADERS, **auth})


async def test_one_token_holder_cannot_take_every_session(sandbox_app: Any) -> None:
    """One token opened 9,493 sessions in 42 s and every client then got 503: now a client holds at most
    MSGFLASH_MAX_SESSIONS_PER_CLIENT, its next opening gets a 429 that says what to do, others still open
    theirs, and closing one (DELETE) makes room."""
    other = "trust-http-other-" + "7" * 16
    settings = make_settings(http_token=f"{TOKEN},{other}", max_sessions_per_client=3)
    async with running(http_app(settings, host="127.0.0.1", port=PORT, sandbox_app=sandbox_app)) as http:
        opened = [await open_session(http, TOKEN) for _ in range(3)]
        assert [r.status_code for r in opened] == [200] * 3
        refused = await open_session(http, TOKEN)
        assert refused.status_code == 429 and "mcp-session-id" not in refused.headers
        message = refused.json()["error"]["message"]
        assert "MSGFLASH_MAX_SESSIONS_PER_CLIENT" in message and "DELETE" in message and TOKEN not in message
        assert (await open_session(http, other)).status_code == 200  # another client is not affected
        session = opened[0].headers["mcp-session-id"]
        auth = {"authorization": f"Bearer {TOKEN}", "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
        assert (await http.delete("/mcp", headers=auth)).status_code == 200
        assert (await open_session(http, TOKEN)).status_code == 200
        assert (await open_session(http, TOKEN)).status_code == 429


async def test_idle_sessions_stop_counting_when_the_transport_reaps_them(sandbox_app: Any) -> None:
    """Sessions the SDK closes after its idle timeout leave the count (injected clock, no real wait);
    a session still in use keeps counting."""
    from msgflash_mcp.server.transport.session_cap import SessionCap

    clock = FakeClock()
    inner = make_app(sandbox_app, token=None)
    cap = SessionCap(inner, limit=2, key=b"install-key", clock=clock.monotonic, idle_timeout=60)
    with anyio.fail_after(30):
        async with inner.router.lifespan_context(inner), httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=cap), base_url=BASE, timeout=10
        ) as http:
            first, second = await open_session(http, None), await open_session(http, None)
            assert first.status_code == second.status_code == 200
            assert (await open_session(http, None)).status_code == 429
            clock.advance(45)
            ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            used = await http.post("/mcp", json=ping, headers={
                **MCP_HEADERS, "mcp-session-id": second.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"})
            assert used.status_code == 200
            clock.advance(30)  # the first has been idle 75 s (> 60), the second 30 s
            assert cap.open_sessions("addr:127.0.0.1") == 2  # nothing forgotten until a request of that client
            assert (await open_session(http, None)).status_code == 200
            assert (await open_session(http, None)).status_code == 429


async def test_modern_requests_open_no_session_and_are_not_capped(sandbox_app: Any) -> None:
    settings = make_settings(http_token=TOKEN, max_sessions_per_client=1)
    app = http_app(settings, host="127.0.0.1", port=PORT, sandbox_app=sandbox_app)
    with anyio.fail_after(60):
        async with app.router.lifespan_context(app), httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url=BASE, timeout=20,
            headers={"authorization": f"Bearer {TOKEN}"},
        ) as http:
            assert (await open_session(http, TOKEN)).status_code == 200  # the one legacy session
            for _ in range(3):
                async with Client(streamable_http_client(f"{BASE}/mcp", http_client=http), mode="auto") as modern:
                    assert (await modern.call_tool("list_workspaces", {})).is_error is False
