"""billing toolset: read-only account data; personal-only routes always carry the personal key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from mcp import Client
from msgflash_mcp.sandbox.faults import FaultRule
from msgflash_mcp.sandbox.inprocess import sandbox_transport
from msgflash_mcp.sandbox.keys import TEAM_ID, TEAM_KEY, TEAM_NAME
from msgflash_mcp.sandbox.seed import USER_EMAIL, USER_NAME
from msgflash_mcp.server.app import build_server
from msgflash_mcp.tools.billing import usage_quotas

from tests.conftest import call_error, call_ok, make_settings

pytestmark = pytest.mark.anyio

Ledger = Callable[[], list[dict[str, Any]]]
PERSONAL_ONLY_TOOLS = ["get_usage", "get_account", "get_subscription", "get_billing_usage", "list_payments"]
SANDBOX_PERSONAL = "personal (sandbox)"


async def test_get_usage_lists_every_quota_with_a_percentage(client: Client, ledger: Ledger) -> None:
    out = await call_ok(client, "get_usage")
    assert out["status"] == "ok" and out["workspace"] == SANDBOX_PERSONAL
    data = out["data"]
    usage, limits = data["usage"], data["limits"]
    assert usage["effectiveOutboundUsage"] == usage["messagesCount"] + usage["statusesCount"]

    def shown(label: str, used: int, limit: int) -> str:
        return f"{label} {used}/{limit} ({100 * used // limit}%)"

    assert out["summary"] == (
        f"{data['plan']['name']} plan: "
        + ", ".join([
            shown("outbound messages", usage["effectiveOutboundUsage"], limits["monthlyOutboundQuota"]),
            shown("API requests", usage["apiRequestsCount"], limits["monthlyApiRequestQuota"]),
            shown("instances", usage["activeInstancesCount"], limits["maxInstances"]),
            shown("API keys", usage["activeApiKeysCount"], limits["maxApiKeys"]),
            f"webhook endpoints max {limits['maxWebhookEndpoints']}",
            f"contact groups max {limits['maxContactGroups']}",
        ])
        + f" ({data['period']['start'][:10]} to {data['period']['end'][:10]}); none near its limit"
    )
    assert [(e["method"], e["path"], e["key_kind"]) for e in ledger()] == [("GET", "/api/v1/usage", "personal")]


async def test_get_usage_flags_each_quota_at_or_above_80_percent(client: Client, sandbox_app: Any) -> None:
    async with httpx2.AsyncClient(transport=sandbox_transport(sandbox_app), base_url="http://127.0.0.1") as control:
        limits = (await call_ok(client, "get_usage"))["data"]["limits"]
        outbound, api = limits["monthlyOutboundQuota"], limits["monthlyApiRequestQuota"]
        # 79.98% of the outbound quota stays unflagged; the API request quota is past 80% (the call counts too).
        usage = {"messagesCount": outbound * 80 // 100 - 1, "statusesCount": 0, "apiRequestsCount": api * 80 // 100}
        assert (await control.post("/_sandbox/account", json={"usage": usage})).status_code == 200
    out = await call_ok(client, "get_usage")
    assert f"outbound messages {usage['messagesCount']}/{outbound} (79%)" in out["summary"]
    assert out["summary"].endswith("; near limit (>=80%): API requests")


@pytest.mark.parametrize(
    ("limits", "usage", "described", "near"),
    [
        ({"monthlyOutboundQuota": None}, {"effectiveOutboundUsage": 7}, ["outbound messages 7 (unlimited)"], []),
        ({"maxInstances": 0}, {}, ["instances 0/0 (100%)"], ["instances"]),
        ({"maxInstances": 5.0}, {"activeInstancesCount": 4}, ["instances 4/5 (80%)"], ["instances"]),
        ({"maxTeams": 2, "maxApiKeys": 3}, {"activeApiKeysCount": 1}, ["API keys 1/3 (33%)", "maxTeams max 2"], []),
    ],
    ids=["unlimited", "none-allowed", "float-limit", "limit-the-api-adds-later"],
)
def test_usage_quotas_read_whatever_limits_the_api_returns(
    limits: dict[str, Any], usage: dict[str, Any], described: list[str], near: list[str]
) -> None:
    quotas = usage_quotas({"limits": limits, "usage": usage})
    assert [quota.describe() for quota in quotas] == described
    assert [quota.label for quota in quotas if quota.near_limit] == near


async def test_get_account(client: Client) -> None:
    out = await call_ok(client, "get_account")
    assert out["workspace"] == SANDBOX_PERSONAL
    assert out["data"]["email"] == USER_EMAIL
    assert out["summary"].startswith(f"Account {USER_NAME} <{USER_EMAIL}>")
    assert "1 team(s)" in out["summary"]


async def test_list_plans_is_workspace_scoped(client: Client, ledger: Ledger) -> None:
    out = await call_ok(client, "list_plans")
    codes = [plan["code"] for plan in out["data"]]
    assert "pro" in codes and "free" in codes
    assert out["summary"].startswith(f"{len(codes)} plan(s): ")
    assert "Pro (19 EUR/month)" in out["summary"]
    team = await call_ok(client, "list_plans", {"workspace": TEAM_NAME})
    assert team["workspace"] == f"{TEAM_NAME} (sandbox)"
    assert [(e["key_kind"], e["team_id"]) for e in ledger()] == [("personal", None), ("team", TEAM_ID)]


async def test_get_subscription(client: Client) -> None:
    out = await call_ok(client, "get_subscription")
    assert out["workspace"] == SANDBOX_PERSONAL
    sub = out["data"]["subscription"]
    period = out["data"]["period"]
    assert out["summary"].startswith(f"{sub['plan']['name']} plan, ")
    assert f"({period['start'][:10]} to {period['end'][:10]})" in out["summary"]
    assert "scheduled" not in out["summary"]


async def test_get_billing_usage_adds_what_the_plan_includes(client: Client) -> None:
    out = await call_ok(client, "get_billing_usage")
    data = out["data"]
    assert out["workspace"] == SANDBOX_PERSONAL
    assert set(data) >= {"plan", "limits", "features", "usage", "period"}
    included = [name for name, on in data["features"].items() if on]
    assert "; none near its limit; features: " + ", ".join(included) in out["summary"]
    assert out["summary"].startswith(f"{data['plan']['name']} plan: outbound messages ")


async def test_usage_descriptions_say_which_tool_answers_what(client: Client) -> None:
    tools = {tool.name: tool.description or "" for tool in (await client.list_tools()).tools}
    assert "80%" in tools["get_usage"] and "start here" in tools["get_usage"].lower()
    assert "features" in tools["get_billing_usage"] and "get_usage" in tools["get_billing_usage"]
    assert "scheduled change" in tools["get_subscription"] and "quotas: get_usage" in tools["get_subscription"]


async def test_list_payments_pages(client: Client, ledger: Ledger) -> None:
    first = await call_ok(client, "list_payments", {"limit": 2})
    assert first["workspace"] == SANDBOX_PERSONAL
    assert len(first["data"]["payments"]) == 2
    assert first["summary"].startswith("2 payment(s) on page 1/2 (3 in all); latest 19.00 EUR succeeded for Pro on ")
    assert first["summary"].endswith("pass page=2 for more")
    second = await call_ok(client, "list_payments", {"limit": 2, "page": 2})
    assert len(second["data"]["payments"]) == 1 and "pass page" not in second["summary"]
    queries = [e["query"] for e in ledger()]
    assert queries == ["limit=2", "page=2&limit=2"]


@pytest.mark.parametrize("args", [{"limit": 0}, {"limit": 101}, {"page": 0}, {"page": "two"}])
async def test_list_payments_validation_sends_nothing(client: Client, ledger: Ledger, args: dict[str, Any]) -> None:
    await call_error(client, "list_payments", args)
    assert ledger() == []


async def test_personal_only_tools_take_no_workspace(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    for name in PERSONAL_ONLY_TOOLS:
        assert "workspace" not in tools[name].input_schema.get("properties", {}), name
        annotations = tools[name].annotations
        assert annotations is not None and annotations.read_only_hint is True
    assert "workspace" in tools["list_plans"].input_schema["properties"]



async def test_stray_workspace_argument_cannot_redirect_the_key(client: Client, ledger: Ledger) -> None:
    # Not in the schema, so the SDK drops it: the call still goes out with the personal key.
    out = await call_ok(client, "get_usage", {"workspace": TEAM_NAME})
    assert out["workspace"] == SANDBOX_PERSONAL
    assert [(e["key_kind"], e["team_id"]) for e in ledger()] == [("personal", None)]


async def test_personal_key_even_when_a_team_is_active(sandbox_app: Any, ledger: Ledger) -> None:
    server = build_server(make_settings(default_workspace=TEAM_NAME), sandbox_app=sandbox_app)
    async with Client(server) as client:
        await _all_personal_then_plans(client)
    kinds = [(e["path"], e["key_kind"], e["team_id"]) for e in ledger()]
    assert all(kind == "personal" and team is None for path, kind, team in kinds[:-1]), kinds
    assert kinds[-1] == ("/api/v1/billing/plans", "team", TEAM_ID)
    assert not any(e["code"] == "TEAM_KEY_NOT_ALLOWED" for e in ledger())


async def _all_personal_then_plans(client: Client) -> None:
    for name in PERSONAL_ONLY_TOOLS:
        out = await call_ok(client, name)
        assert out["workspace"] == SANDBOX_PERSONAL, name
    plans = await call_ok(client, "list_plans")
    assert plans["workspace"] == f"{TEAM_NAME} (sandbox)"


async def test_without_a_personal_key_says_what_to_configure(sandbox_app: Any) -> None:
    settings = make_settings(
        sandbox=False, teams=[{"name": TEAM_NAME, "team_id": TEAM_ID, "key": TEAM_KEY}]
    )
    server = build_server(settings, http_transport=sandbox_transport(sandbox_app))
    async with Client(server) as client:
        error = await call_error(client, "get_usage")
        assert "MSGFLASH_API_KEY" in error and "personal key" in error
        assert sandbox_app.state.sandbox.ledger == []
        plans = await call_ok(client, "list_plans")  # team keys may read the catalogue
        assert plans["workspace"] == TEAM_NAME
    assert [e["key_kind"] for e in sandbox_app.state.sandbox.ledger] == ["team"]


async def test_api_error_is_readable(client: Client, sandbox_app: Any) -> None:
    sandbox_app.state.sandbox.faults.add(
        [FaultRule(action="status", path="/api/v1/billing/subscription", status=403, code="SUBSCRIPTION_INACTIVE")]
    )
    error = await call_error(client, "get_subscription")
    assert "403 SUBSCRIPTION_INACTIVE" in error
    assert "renew it in the dashboard" in error
