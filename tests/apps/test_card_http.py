"""apps.card over Streamable HTTP (both eras): the Apps capability, the card and app_approve work the same
as in memory, and a plain HTTP client of the same app still sees no Apps surface."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import mutations
from tests.e2e.test_http import ENDPOINT, TOKEN, running
from tests.e2e.test_http import app as app  # the fixture: http_app wired to the sandbox

from .conftest import apps_extension, card_confirmation, connected_instance

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_card_and_approve_over_http(app: Any, mode: str, ledger: Callable[[], list[dict[str, Any]]]) -> None:
    async with running(app, TOKEN) as http:
        transport = streamable_http_client(ENDPOINT, http_client=http)
        async with Client(transport, mode=mode, extensions=[apps_extension()]) as client:
            with anyio.fail_after(30):
                names = {t.name for t in (await client.list_tools()).tools}
                args = {"instance_id": await connected_instance(client), "to": "+5511912345678", "type": "text", "text": "Hi"}
                card = card_confirmation(await client.call_tool("send_message", args))
                done = await client.call_tool("app_approve", {"tool": "send_message", "arguments": card["arguments"],
                                                              "confirm_token": card["token"]})
        async with Client(streamable_http_client(ENDPOINT, http_client=http), mode=mode) as plain:
            plain_names = {t.name for t in (await plain.list_tools()).tools}
    assert "app_approve" in names and "app_approve" not in plain_names
    assert (done.structured_content or {})["status"] == "ok"
    assert len([e for e in mutations(ledger()) if e["path"].startswith("/api/v1/messages")]) == 1
