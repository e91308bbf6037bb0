"""No duplicate sends: every sending tool x every failure mode leaves exactly one object, or none.

The API documents no idempotency keys, so a request that may have been processed is never sent
again blindly: sends reconcile against the message history, others surface "outcome unknown".
Failures that provably never reached the API (connect error, 429 before commit) are retried.
The sandbox ledger is the referee.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from msgflash_mcp.sandbox.inprocess import sandbox_transport
from msgflash_mcp.sandbox.seed import PERSONAL_CONNECTED_INSTANCE_ID, VIP_GROUP_ID
from msgflash_mcp.server.app import build_server

from tests.conftest import make_settings
from tests.trust.requirements import requirement

pytestmark = pytest.mark.anyio

LATER = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "send_message": (
        "/api/v1/messages/send",
        {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "to": "+33612345099", "type": "text", "text": "Order #12 shipped"},
    ),
    "schedule_message": (
        "/api/v1/messages/schedule",
        {
            "instance_id": PERSONAL_CONNECTED_INSTANCE_ID,
            "to": "+33612345099",
            "type": "text",
            "text": "Reminder: pickup tomorrow",
            "scheduled_at": LATER,
        },
    ),
    "create_campaign": (
        "/api/v1/campaigns",
        {
            "instance_id": PERSONAL_CONNECTED_INSTANCE_ID,
            "name": "Fault matrix",
            "schedule": LATER,
            "recipients_type": "group",
            "group_id": VIP_GROUP_ID,
            "type": "text",
            "body": "Spring sale",
        },
    ),
}
# fault -> may the request have been processed?
FAULTS: dict[str, tuple[dict[str, Any], bool]] = {
    "500-after-commit": ({"action": "after_commit", "status": 500, "code": "INTERNAL_ERROR"}, True),
    "drop-after-commit": ({"action": "drop_after_commit"}, True),
    "read-timeout-after-commit": ({"action": "delay", "after_commit": True, "seconds": 5}, True),
    "429-before-commit": ({"action": "status", "status": 429, "code": "API_RATE_LIMIT_EXCEEDED", "retry_after": 0}, False),
    "connect-error": ({"action": "connect_error"}, False),
}


async def inject(app: Any, rule: dict[str, Any]) -> None:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        response = await http.post("/_sandbox/faults", json=rule)
        assert response.status_code < 300, response.text


@requirement("retry.no-dup-send-5xx", "retry.safe-before-commit")
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("tool", list(CALLS))
async def test_a_failed_send_is_never_duplicated(tool: str, fault: str, sandbox_app: Any) -> None:
    path, arguments = CALLS[tool]
    rule, maybe_processed = FAULTS[fault]
    await inject(sandbox_app, {"method": "POST", "path": path, "count": 1, **rule})
    # confirm=off: this test is about the wire, not the confirmation; timeout short for the slow fault.
    settings = make_settings(confirm="off", timeout=0.5)
    server = build_server(settings, http_transport=sandbox_transport(sandbox_app), sandbox_app=sandbox_app)
    async with Client(server) as client:
        with anyio.fail_after(30):
            result = await client.call_tool(tool, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    created = [e for e in sandbox_app.state.sandbox.ledger if e["method"] == "POST" and e["path"] == path and e["committed"]]
    assert len(created) == 1, f"{tool} under {fault}: {len(created)} objects created"
    attempts = [e for e in sandbox_app.state.sandbox.ledger if e["method"] == "POST" and e["path"] == path]
    if maybe_processed:
        # Never sent twice: one attempt only, then reconcile (sends) or say the outcome is unknown.
        assert len(attempts) == 1
        if result.is_error:
            assert "outcome unknown" in text and "do not simply retry" in text.lower()
            if tool == "create_campaign":
                assert "dashboard" in text  # the API cannot list campaigns: say where to look instead
        else:
            assert tool in ("send_message", "schedule_message")
            assert "recovered" in text.lower()
            assert result.structured_content is not None
            assert result.structured_content["data"]["id"] == created[0]["object_id"]
    else:
        assert not result.is_error, text  # retried safely, done once
        assert len(attempts) >= 1


async def test_monthly_quota_errors_are_not_retried_and_say_what_to_do(sandbox_app: Any) -> None:
    path, arguments = CALLS["send_message"]
    await inject(sandbox_app, {"method": "POST", "path": path, "count": 5, "action": "status", "status": 429,
                               "code": "MONTHLY_OUTBOUND_QUOTA_EXCEEDED"})
    server = build_server(make_settings(confirm="off"), http_transport=sandbox_transport(sandbox_app), sandbox_app=sandbox_app)
    async with Client(server) as client:
        result = await client.call_tool("send_message", arguments)
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "MONTHLY_OUTBOUND_QUOTA_EXCEEDED" in text and "nothing was sent" in text.lower()
    attempts = [e for e in sandbox_app.state.sandbox.ledger if e["path"] == path]
    assert len(attempts) == 1


async def test_reads_are_retried_through_transient_5xx(sandbox_app: Any) -> None:
    await inject(sandbox_app, {"method": "GET", "path": "/api/v1/instances", "count": 2, "action": "status",
                               "status": 503, "code": "PROVIDER_UNAVAILABLE"})
    server = build_server(make_settings(), http_transport=sandbox_transport(sandbox_app), sandbox_app=sandbox_app)
    async with Client(server) as client:
        result = await client.call_tool("list_instances", {})
    assert not result.is_error
    attempts = [e for e in sandbox_app.state.sandbox.ledger if e["path"] == "/api/v1/instances"]
    assert [e["status"] for e in attempts] == [503, 503, 200]


@requirement("retry.bounded")
async def test_a_read_that_keeps_failing_stops_after_the_retry_budget(sandbox_app: Any) -> None:
    await inject(sandbox_app, {"method": "GET", "path": "/api/v1/instances", "count": None, "action": "status",
                               "status": 503, "code": "PROVIDER_UNAVAILABLE"})
    server = build_server(make_settings(), http_transport=sandbox_transport(sandbox_app), sandbox_app=sandbox_app)
    async with Client(server) as client:
        with anyio.fail_after(20):
            result = await client.call_tool("list_instances", {})
    assert result.is_error and "PROVIDER_UNAVAILABLE" in result.content[0].text  # type: ignore[union-attr]
    assert len([e for e in sandbox_app.state.sandbox.ledger if e["path"] == "/api/v1/instances"]) == 3


@requirement("retry.no-4xx-retry")
@pytest.mark.parametrize(("status", "code"), [(400, "VALIDATION_ERROR"), (401, "UNAUTHORIZED"), (403, "FORBIDDEN"),
                                              (404, "NOT_FOUND"), (422, "INVALID_DESTINATION")])
async def test_client_errors_are_never_retried(status: int, code: str, sandbox_app: Any) -> None:
    for method, path, tool, arguments in (
        ("GET", "/api/v1/instances", "list_instances", {}),
        ("POST", CALLS["send_message"][0], "send_message", CALLS["send_message"][1]),
    ):
        await inject(sandbox_app, {"method": method, "path": path, "count": 1, "action": "status", "status": status,
                                   "code": code})
        server = build_server(make_settings(confirm="off"), http_transport=sandbox_transport(sandbox_app),
                              sandbox_app=sandbox_app)
        async with Client(server) as client:
            result = await client.call_tool(tool, arguments)
        assert result.is_error and code in result.content[0].text  # type: ignore[union-attr]
        assert len([e for e in sandbox_app.state.sandbox.ledger if e["path"] == path]) == 1
        sandbox_app.state.sandbox.ledger.clear()
    sandbox_app.state.expect_bad_credentials = status == 401  # the fault, not a real key, said 401


@requirement("retry.hang-deadline")
@pytest.mark.parametrize("tool", ["list_instances", "send_message"])
async def test_an_api_that_never_answers_gives_an_error_within_the_deadline(tool: str, sandbox_app: Any) -> None:
    path, arguments = ("/api/v1/instances", {}) if tool == "list_instances" else CALLS["send_message"]
    method = "GET" if tool == "list_instances" else "POST"
    await inject(sandbox_app, {"method": method, "path": path, "count": None, "action": "delay", "seconds": 60})
    settings = make_settings(confirm="off", timeout=60, call_deadline=1.0)
    server = build_server(settings, http_transport=sandbox_transport(sandbox_app), sandbox_app=sandbox_app)
    async with Client(server) as client:
        started = anyio.current_time()
        with anyio.fail_after(10):
            result = await client.call_tool(tool, arguments)
        elapsed = anyio.current_time() - started
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error and elapsed < 5
    if tool == "send_message":
        assert "outcome unknown" in text  # it may have been processed: never claim otherwise
    else:
        assert "did not answer within 1 s" in text
