"""The control surface (/_sandbox/*) obeys the local user only, not a web page they visit.

A page on any site can make the browser send simple requests to loopback (a text/plain POST, no
custom header, no preflight) and, through DNS rebinding, even read answers under its own name.
So: a loopback Host, a loopback Origin when one is sent, and a non-simple POST/DELETE. Every
refusal is checked against the sandbox's state, not only the status code: nothing happened.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from .helpers import PERSONAL, client_for, error_code

pytestmark = pytest.mark.anyio

RULE = '{"path": "/api/v1/me", "action": "status", "status": 500}'
JSON = {"content-type": "application/json"}


def state(app: Any) -> tuple[int, int, int]:
    """(ledger entries, fault rules, contacts): what a refused request must leave alone."""
    sb = app.state.sandbox
    contacts = sb.db.execute("SELECT COUNT(*) FROM contacts").fetchone()[0]
    return len(sb.ledger), len(sb.faults.rules), contacts


@pytest.fixture
async def raw(app: Any) -> Any:
    """A client that sends only what each test adds: no control header."""
    async with client_for(app) as c:
        del c.headers["x-sandbox-control"]
        await c.post("/api/v1/contacts", json={"name": "Kept", "phone": "+33612340077"})
        yield c


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8787", "localhost.evil.example", "127.0.0.1.nip.io:80", ""])
async def test_foreign_host_is_refused(app: Any, raw: httpx2.AsyncClient, host: str) -> None:
    before = state(app)
    r = await raw.post("/_sandbox/faults", content=RULE, headers={**JSON, "host": host})
    assert (r.status_code, error_code(r)) == (421, "INVALID_HOST")
    r = await raw.post("/_sandbox/reset", headers={"x-sandbox-control": "1", "host": host})
    assert (r.status_code, error_code(r)) == (421, "INVALID_HOST")
    r = await raw.get("/_sandbox/info", headers={"host": host})  # a rebound page would read the keys
    assert r.status_code == 421
    assert state(app) == before


@pytest.mark.parametrize("origin", ["http://evil.example", "https://localhost.evil.example", "null", "file://", "http://127.0.0.2.evil:80"])
async def test_cross_origin_is_refused_even_with_json_and_the_header(app: Any, raw: httpx2.AsyncClient, origin: str) -> None:
    before = state(app)
    r = await raw.post("/_sandbox/faults", content=RULE, headers={**JSON, "x-sandbox-control": "1", "origin": origin})
    assert (r.status_code, error_code(r)) == (403, "INVALID_ORIGIN")
    r = await raw.request("DELETE", "/_sandbox/ledger", headers={"x-sandbox-control": "1", "origin": origin})
    assert r.status_code == 403
    assert state(app) == before


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
async def test_simple_posts_are_refused(app: Any, raw: httpx2.AsyncClient, content_type: str) -> None:
    before = state(app)
    r = await raw.post("/_sandbox/faults", content=RULE, headers={"content-type": content_type})
    assert (r.status_code, error_code(r)) == (415, "UNSUPPORTED_MEDIA_TYPE")
    assert "application/json" in r.json()["error"]["message"]
    r = await raw.post("/_sandbox/reset", content=b"{}", headers={"content-type": content_type})
    assert r.status_code == 415
    assert state(app) == before


async def test_bodyless_post_and_delete_need_the_control_header(app: Any, raw: httpx2.AsyncClient) -> None:
    await raw.post("/_sandbox/faults", content=RULE, headers=JSON)  # one rule, accepted (JSON)
    before = state(app)
    for method, path in [("POST", "/_sandbox/reset"), ("DELETE", "/_sandbox/faults"), ("DELETE", "/_sandbox/ledger")]:
        r = await raw.request(method, path)
        assert (r.status_code, error_code(r)) == (403, "CONTROL_HEADER_REQUIRED"), (method, path)
        assert "X-Sandbox-Control: 1" in r.json()["error"]["message"]
    r = await raw.request("DELETE", "/_sandbox/faults", headers={"x-sandbox-control": "0"})
    assert r.status_code == 403
    assert state(app) == before


async def test_local_callers_get_through(app: Any, raw: httpx2.AsyncClient) -> None:
    """The same requests from a local tool: JSON bodies, or the header; loopback names and origins on any port."""
    r = await raw.post("/_sandbox/faults", content=RULE, headers=JSON)
    assert r.status_code == 200 and len(r.json()["data"]) == 1
    r = await raw.post("/_sandbox/faults", json={"path": "/api/v1/me", "action": "status", "status": 503},
                       headers={"host": "localhost:8787", "origin": "http://localhost:3000"})
    assert r.status_code == 200 and len(r.json()["data"]) == 2
    r = await raw.request("DELETE", "/_sandbox/faults", headers={"x-sandbox-control": "1", "host": "[::1]:8787",
                                                                  "origin": "http://[::1]:8787"})
    assert r.status_code == 200 and app.state.sandbox.faults.rules == []
    assert (await raw.get("/_sandbox/ledger", headers={"host": "127.0.0.1:9"})).status_code == 200
    r = await raw.post("/_sandbox/reset", headers={"x-sandbox-control": "1"})
    assert r.status_code == 200
    assert state(app)[:2] == (0, 0)
    assert app.state.sandbox.db.execute("SELECT COUNT(*) FROM contacts WHERE name_lc = 'kept'").fetchone()[0] == 0


async def test_the_api_itself_is_not_gated(app: Any, raw: httpx2.AsyncClient) -> None:
    """The simulated MsgFlash API keeps behaving like the real one; only /_sandbox/* is local-only."""
    r = await raw.get("/api/v1/me", headers={**PERSONAL, "host": "api.example", "origin": "http://evil.example"})
    assert r.status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(60)  # a subprocess start-up, under load
def test_standalone_sandbox_applies_the_same_rules(tmp_path: Path) -> None:
    """`msgflash-mcp sandbox` over a real socket: the checks live in the app, so both ways of serving it share them."""
    script = Path(sys.executable).parent / "msgflash-mcp"
    port = _free_port()
    proc = subprocess.Popen([str(script), "sandbox", "--port", str(port), "--db", str(tmp_path / "sb.sqlite3")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx2.Client(base_url=url, timeout=5) as http:
            deadline = time.monotonic() + 20
            while True:
                try:
                    http.get("/_sandbox/ledger")
                    break
                except httpx2.TransportError:
                    assert proc.poll() is None and time.monotonic() < deadline, "standalone sandbox did not start"
                    time.sleep(0.1)
            assert http.post("/_sandbox/faults", content=RULE, headers={"content-type": "text/plain"}).status_code == 415
            assert http.post("/_sandbox/reset").status_code == 403
            assert http.post("/_sandbox/faults", content=RULE, headers={**JSON, "host": "rebound.example"}).status_code == 421
            assert http.post("/_sandbox/faults", content=RULE, headers={**JSON, "origin": "https://evil.example"}).status_code == 403
            assert http.get("/_sandbox/faults").json()["data"] == []
            assert http.post("/_sandbox/faults", content=RULE, headers=JSON).status_code == 200
            assert len(http.get("/_sandbox/faults").json()["data"]) == 1
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
