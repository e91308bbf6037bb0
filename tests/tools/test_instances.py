"""instances toolset: the linked numbers and their live state, read through the sandbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client
from msgflash_mcp.sandbox.seed import PERSONAL_CONNECTED_INSTANCE_ID, PERSONAL_DISCONNECTED_INSTANCE_ID

from tests.conftest import call_error, call_ok

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]


async def test_list_instances_counts_the_connected_ones(client: Client) -> None:
    out = await call_ok(client, "list_instances")
    names = {i["name"] for i in out["data"]}
    assert names == {"boutique-principale", "support-ancien"}  # the team's instance is not the personal workspace's
    assert out["summary"] == "2 instance(s), 1 connected"


async def test_get_instance_reads_one_by_id(client: Client, ledger: Ledger) -> None:
    out = await call_ok(client, "get_instance", {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID})
    assert out["data"]["id"] == PERSONAL_CONNECTED_INSTANCE_ID
    assert out["summary"] == "Instance boutique-principale is connected"
    assert ledger()[-1]["path"] == f"/api/v1/instances/{PERSONAL_CONNECTED_INSTANCE_ID}"


async def test_get_instance_state_shows_the_provider_state(client: Client) -> None:
    out = await call_ok(client, "get_instance_state", {"instance_id": PERSONAL_DISCONNECTED_INSTANCE_ID})
    assert out["data"]["status"] == "disconnected"
    assert out["summary"] == "Instance state: disconnected (provider close)"


async def test_get_instance_health_reports_the_warm_up_state(client: Client) -> None:
    out = await call_ok(client, "get_instance_health", {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID})
    data = out["data"]
    assert data["instanceId"] == PERSONAL_CONNECTED_INSTANCE_ID and data["state"] == "stable"
    assert out["summary"] == f"Health: {data['decision']} / risk {data['riskLevel']} / stable"


async def test_an_unknown_instance_is_a_readable_error(client: Client) -> None:
    text = await call_error(client, "get_instance", {"instance_id": str(uuid.uuid4())})
    assert "not found" in text.lower()
