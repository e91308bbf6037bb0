"""The recheck→write window (issue 19, "High"): a confirmed write and another write of this server in the
same workspace, in one parallel batch. What people receive, once the sandbox clock has run, never goes
beyond what the person confirmed: the other write lands before the recheck (and the person is asked
again) or after the POST, never in between (server/guard/write_lock.py).

`RaceWindow` (tests/race.py) puts the other write exactly in the window every run. The sandbox freezes a
campaign's selector when it is created here (`resolution` = create): whether the API resolves it later
is the explicit-recipients work, tested on its own; this file tests the window alone.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.types import ElicitRequestFormParams, ElicitResult
from msgflash_mcp.sandbox.campaign_runs import Resolution
from msgflash_mcp.sandbox.seed import (
    AWA_CONTACT_ID,
    PERSONAL_CONNECTED_INSTANCE_ID,
    PERSONAL_CONTACTS,
    VIP_GROUP_ID,
    WELCOME_TEMPLATE_ID,
)
from msgflash_mcp.server.app import build_server
from pydantic import SecretStr

from tests.conftest import call_ok, make_settings
from tests.redis_server import redis_url  # noqa: F401  (the fixture)
from tests.trust.race import RaceWindow
from tests.trust.received import before, received, run_clock
from tests.trust.requirements import requirement

pytestmark = pytest.mark.anyio

WAIT = 30.0  # seconds one race may take in all
VIPS = {phone for _name, phone, tags in PERSONAL_CONTACTS if "vip" in tags}  # the group's 5 members
LEADS = {phone for _name, phone, tags in PERSONAL_CONTACTS if "lead" in tags}
CAMPAIGN = {
    "instance_id": PERSONAL_CONNECTED_INSTANCE_ID,
    "name": "Offre VIP",
    "schedule": "2031-06-01T10:00:00Z",
    "recipients_type": "group",
    "group_id": VIP_GROUP_ID,
    "type": "text",
    "body": "Offre réservée",
}
ADD_LEADS = {"group_id": VIP_GROUP_ID, "tags": ["lead"]}
WELCOME = {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "to": "+33612345000", "template_id": WELCOME_TEMPLATE_ID,
           "contact_id": AWA_CONTACT_ID}
PHISHING = "URGENT: log in at https://evil.example/login"


@pytest.fixture
def resolution() -> Resolution:
    return "create"


@pytest.fixture
def window(sandbox_app: Any) -> RaceWindow:
    return RaceWindow(sandbox_app)


@pytest.fixture
def racing(window: RaceWindow, sandbox_app: Any) -> MCPServer[Any]:
    return build_server(make_settings(), http_transport=window, sandbox_app=sandbox_app)


def other_write_went_through(server: MCPServer[Any], done: anyio.Event) -> Any:
    """The window closes once the other write finished, or waits for the workspace's write lock."""
    locks = server.runtime.write_locks  # type: ignore[attr-defined]
    return lambda: done.is_set() or locks.waiting("personal") > 0


async def race(client: Client, window: RaceWindow, server: MCPServer[Any], reads: int,
               confirmed: tuple[str, dict[str, Any]], other: tuple[str, dict[str, Any]]) -> Any:
    """One parallel batch: the confirmed call, and `other` landing in its window after its `reads`-th read."""
    done = anyio.Event()
    results: dict[str, Any] = {}
    window.arm(reads, other_write_went_through(server, done))

    async def confirmed_call() -> None:
        results["confirmed"] = await client.call_tool(*confirmed)

    async def other_call() -> None:
        await window.opened.wait()
        results["other"] = await call_ok(client, *other)
        done.set()

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(confirmed_call)
            tg.start_soon(other_call)
    return results["confirmed"]


@requirement("plan.write-race")
async def test_parallel_batch_never_sends_a_campaign_to_more_than_the_confirmed_five(
    racing: MCPServer[Any], window: RaceWindow, sandbox_app: Any
) -> None:
    start = before(sandbox_app)
    async with Client(racing) as client:
        window.count_reads()
        first = await call_ok(client, "create_campaign", CAMPAIGN)
        assert first["preview"]["who"]["count"] == len(VIPS)
        redeem = {**CAMPAIGN, "confirm_token": first["confirm_token"]}
        result = await race(client, window, racing, window.reads, ("create_campaign", redeem), ("add_group_members", ADD_LEADS))
    run_clock(sandbox_app, until=_after(CAMPAIGN["schedule"]))
    assert received(sandbox_app, start) == []  # nothing was created for the five-person confirmation
    out = result.structured_content
    assert not result.is_error and out["status"] == "confirmation_required", out
    assert f"recipients {len(VIPS)} → {len(VIPS | LEADS)}" in out["preview"]["changes"]


@requirement("plan.write-race")
async def test_legacy_form_showing_five_recipients_never_sends_to_twelve(
    racing: MCPServer[Any], window: RaceWindow, sandbox_app: Any
) -> None:
    questions: list[str] = []

    async def accept(context: Any, params: Any) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        questions.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    start = before(sandbox_app)
    async with Client(racing) as counting:  # no form: how many reads one plan of this call makes
        window.count_reads()
        await call_ok(counting, "create_campaign", CAMPAIGN)
        reads = window.reads
    async with Client(racing, mode="legacy", elicitation_callback=accept) as client:
        # The plan is built for the form, then rebuilt under the lock after the answer: the window is after that.
        result = await race(client, window, racing, 2 * reads, ("create_campaign", CAMPAIGN), ("add_group_members", ADD_LEADS))
    assert not result.is_error and result.structured_content["status"] == "ok", result
    assert f"Recipients: {len(VIPS)}" in questions[0]
    run_clock(sandbox_app, until=_after(CAMPAIGN["schedule"]))
    reached = {message.to for message in received(sandbox_app, start)}
    assert reached and reached <= VIPS  # the group grew only after the campaign was created for the five


@requirement("plan.write-race")
async def test_template_send_redeemed_alongside_an_edit_never_delivers_the_edited_text(
    racing: MCPServer[Any], window: RaceWindow, sandbox_app: Any
) -> None:
    start = before(sandbox_app)
    async with Client(racing) as client:
        window.count_reads()
        first = await call_ok(client, "send_message", WELCOME)
        confirmed_text = first["preview"]["what"]["text"]
        redeem = {**WELCOME, "confirm_token": first["confirm_token"]}
        edit = {"template_id": WELCOME_TEMPLATE_ID, "body": PHISHING}
        result = await race(client, window, racing, window.reads, ("send_message", redeem), ("update_template", edit))
    run_clock(sandbox_app)
    assert "evil.example" not in confirmed_text
    assert received(sandbox_app, start) == []  # the welcome text was confirmed; the edited one was never sent
    out = result.structured_content
    assert not result.is_error and out["status"] == "confirmation_required", out
    assert any(line.startswith("template text changed: ") for line in out["preview"]["changes"])


@requirement("plan.write-race")
@pytest.mark.redis
async def test_a_second_replica_growing_the_group_in_the_window_sends_nothing(
    window: RaceWindow, sandbox_app: Any, redis_url: str  # noqa: F811
) -> None:
    settings = make_settings(redis_url=SecretStr(redis_url))
    a = build_server(settings, http_transport=window, sandbox_app=sandbox_app)
    b = build_server(settings, sandbox_app=sandbox_app)  # another replica: its own process state, the same Redis
    start = before(sandbox_app)
    done = anyio.Event()
    results: dict[str, Any] = {}
    async with Client(a) as on_a, Client(b) as on_b:
        window.count_reads()
        first = await call_ok(on_a, "create_campaign", CAMPAIGN)
        window.arm(window.reads, done.is_set)

        async def redeem_on_a() -> None:
            results["a"] = await on_a.call_tool("create_campaign", {**CAMPAIGN, "confirm_token": first["confirm_token"]})

        async def grow_on_b() -> None:
            await window.opened.wait()
            await call_ok(on_b, "add_group_members", ADD_LEADS)
            done.set()

        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(redeem_on_a)
                tg.start_soon(grow_on_b)
    run_clock(sandbox_app, until=_after(CAMPAIGN["schedule"]))
    assert received(sandbox_app, start) == []
    assert results["a"].structured_content["status"] == "confirmation_required"


def _after(schedule: str) -> Any:
    from datetime import datetime, timedelta

    return datetime.fromisoformat(schedule.replace("Z", "+00:00")) + timedelta(days=1)
