"""guard.state-machine: preview / confirm / change-args / replay / expire against the real server
and sandbox (in-memory MCP client, fake guard clock). Invariant: the committed mutating requests
in the sandbox ledger are exactly the valid first confirmations."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import anyio.from_thread
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, MultipleResults, RuleBasedStateMachine, consumes, invariant, multiple, rule
from mcp import Client
from msgflash_mcp.sandbox.app import SandboxConfig, create_app
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.guard import TOKEN_TTL

from tests.conftest import make_settings, mutations

from .conftest import FakeClock, personal_contacts, pin_guard

CONTACTS = [c["id"] for c in personal_contacts()[1:5]]  # distinct seeded contacts, cheap to delete


@dataclass
class Minted:
    token: str
    contact: str
    expires_at: float
    used: bool = False
    acted: bool = False  # the first use deleted the contact (a replay returns that result)


class GuardMachine(RuleBasedStateMachine):
    tokens = Bundle("tokens")

    def __init__(self) -> None:
        super().__init__()
        self.stack = ExitStack()
        self.portal = self.stack.enter_context(anyio.from_thread.start_blocking_portal("asyncio"))
        self.sandbox = create_app(SandboxConfig(db_path=":memory:", rate_limit=0))
        self.server = build_server(make_settings(), sandbox_app=self.sandbox)
        self.clock = FakeClock()
        pin_guard(self.server, self.clock)
        self.client: Client = self.stack.enter_context(self.portal.wrap_async_context_manager(Client(self.server)))
        self.deleted: set[str] = set()
        self.valid_first_uses = 0

    def teardown(self) -> None:
        self.stack.close()

    def call(self, contact: str, token: str | None = None) -> Any:
        args: dict[str, Any] = {"contact_id": contact}
        if token is not None:
            args["confirm_token"] = token
        return self.portal.call(self.client.call_tool, "delete_contact", args)

    def committed(self) -> list[dict[str, Any]]:
        return mutations([dict(e) for e in self.sandbox.state.sandbox.ledger])

    @rule(target=tokens, contact=st.sampled_from(CONTACTS))
    def preview(self, contact: str) -> Minted | MultipleResults[Minted]:
        before = len(self.committed())
        result = self.call(contact)
        if contact in self.deleted:  # nothing left to preview: refused, no token
            assert result.is_error and "nothing was sent" in result.content[0].text
            assert len(self.committed()) == before
            return multiple()
        assert not result.is_error, result.content
        out = result.structured_content
        assert out["status"] == "confirmation_required"
        assert len(self.committed()) == before  # a preview never acts
        return Minted(out["confirm_token"], contact, self.clock() + TOKEN_TTL)

    @rule(minted=tokens)
    def confirm(self, minted: Minted) -> None:
        """First use acts (if not expired and the contact still exists); any later use replays or refuses."""
        result = self.call(minted.contact, minted.token)
        expired = self.clock() > minted.expires_at
        if minted.used:
            if minted.acted:
                assert not result.is_error and result.structured_content["status"] == "replayed"
            else:
                assert result.is_error
            return
        if expired:
            assert result.is_error and "expired" in result.content[0].text
            return
        minted.used = True
        if minted.contact in self.deleted:  # another token deleted it first: the API says not found
            assert result.is_error
            return
        assert not result.is_error, result.content
        assert result.structured_content["status"] == "ok"
        minted.acted = True
        self.deleted.add(minted.contact)
        self.valid_first_uses += 1

    @rule(minted=tokens, other=st.sampled_from(CONTACTS))
    def change_args(self, minted: Minted, other: str) -> None:
        if other == minted.contact:
            return
        result = self.call(other, minted.token)
        assert result.is_error
        assert "different arguments" in result.content[0].text

    @rule(minted=consumes(tokens))
    def forget(self, minted: Minted) -> None:
        """The model drops a token (keeps the bundle small); nothing happens server-side."""

    @rule(seconds=st.sampled_from([60.0, TOKEN_TTL + 1]))
    def expire(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def side_effects_equal_valid_first_uses(self) -> None:
        committed = self.committed()
        assert all(e["method"] == "DELETE" for e in committed)
        assert len(committed) == self.valid_first_uses
        assert {e["path"].rsplit("/", 1)[-1] for e in committed} == self.deleted


GuardMachine.TestCase.settings = settings(
    max_examples=20,
    stateful_step_count=10,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no explain phase: its line tracer is very slow on 3.11
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.slow
@pytest.mark.timeout(180)  # 20 examples x 10 steps, a server each: ~30 s on a loaded 2-core machine
def test_guard_state_machine() -> None:
    GuardMachine.TestCase().runTest()


# ------------------------------------------------------------------ plans under a changing world

AWA = "+33612345000"


@dataclass
class Confirmable:
    token: str
    args: dict[str, Any]
    workspace: str  # active workspace when the plan was shown
    text: str  # the message text the preview showed (a template's rendering)
    used: bool = False


class PlanMachine(RuleBasedStateMachine):
    """guard.state-machine (plans): tokens for sends while the active workspace switches and the template
    is edited. Invariant: every committed send was confirmed with exactly the workspace and text it went
    out with, and no send happens without a confirmation."""

    pending = Bundle("pending")

    def __init__(self) -> None:
        super().__init__()
        from msgflash_mcp.sandbox.seed import AWA_CONTACT_ID, PERSONAL_CONNECTED_INSTANCE_ID, WELCOME_TEMPLATE_ID

        self.template_id = WELCOME_TEMPLATE_ID
        self.args = {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "to": AWA, "template_id": WELCOME_TEMPLATE_ID,
                     "contact_id": AWA_CONTACT_ID}
        self.stack = ExitStack()
        self.portal = self.stack.enter_context(anyio.from_thread.start_blocking_portal("asyncio"))
        self.sandbox = create_app(SandboxConfig(db_path=":memory:", rate_limit=0))
        self.server = build_server(make_settings(), sandbox_app=self.sandbox)
        self.client: Client = self.stack.enter_context(self.portal.wrap_async_context_manager(Client(self.server)))
        self.active = "personal"
        self.portal.call(self.client.call_tool, "switch_workspace", {"workspace": "personal"})
        self.edits = 0
        self.sent_texts: list[str] = []

    def teardown(self) -> None:
        self.stack.close()

    def sends(self) -> list[dict[str, Any]]:
        entries = mutations([dict(e) for e in self.sandbox.state.sandbox.ledger])
        return [e for e in entries if e["path"] == "/api/v1/messages/send"]

    @rule(target=pending)
    def preview(self) -> Confirmable | MultipleResults[Confirmable]:
        before = len(self.sends())
        result = self.portal.call(self.client.call_tool, "send_message", self.args)
        assert len(self.sends()) == before  # a preview never sends
        if self.active != "personal":  # the personal instance is not in the team: nothing to plan
            assert result.is_error and "nothing was sent" in result.content[0].text
            return multiple()
        out = result.structured_content
        assert out["status"] == "confirmation_required", out
        return Confirmable(out["confirm_token"], dict(self.args), self.active, out["preview"]["what"]["text"])

    @rule(item=pending)
    def confirm(self, item: Confirmable) -> None:
        before = len(self.sends())
        result = self.portal.call(self.client.call_tool, "send_message", {**item.args, "confirm_token": item.token})
        out = result.structured_content or {}
        if result.is_error:
            assert len(self.sends()) == before
            assert item.used or self.active != item.workspace, result.content
            return
        if out["status"] == "replayed":
            assert item.used and len(self.sends()) == before
            return
        if out["status"] == "confirmation_required":  # the world changed: nothing sent, asked again
            assert len(self.sends()) == before
            assert out["preview"]["changes"]
            item.token, item.workspace, item.text = out["confirm_token"], self.active, out["preview"]["what"]["text"]
            return
        assert out["status"] == "ok" and not item.used
        item.used = True
        assert len(self.sends()) == before + 1
        assert item.workspace == self.active == "personal"
        assert out["data"]["body"] == item.text  # exactly the text the person confirmed
        self.sent_texts.append(item.text)

    @rule(name=st.sampled_from(["personal", "sandbox-team"]))
    def switch(self, name: str) -> None:
        self.portal.call(self.client.call_tool, "switch_workspace", {"workspace": name})
        self.active = name

    @rule()
    def edit_template(self) -> None:
        """Someone edits the template behind the preview (the dashboard, a teammate)."""
        import httpx2
        from msgflash_mcp.sandbox.inprocess import sandbox_transport
        from msgflash_mcp.sandbox.keys import PERSONAL_KEY

        self.edits += 1

        async def put() -> None:
            async with httpx2.AsyncClient(transport=sandbox_transport(self.sandbox), base_url="http://x.invalid") as h:
                r = await h.put(f"/api/v1/templates/{self.template_id}", json={"body": f"Edition {self.edits} !"},
                                headers={"x-api-key": PERSONAL_KEY})
                assert r.status_code == 200, r.text

        self.portal.call(put)

    @invariant()
    def every_send_was_confirmed_as_sent(self) -> None:
        sends = self.sends()
        assert len(sends) == len(self.sent_texts)
        assert all(e["key_kind"] == "personal" for e in sends)


PlanMachine.TestCase.settings = settings(
    max_examples=10,
    stateful_step_count=8,
    derandomize=True,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_plan_state_machine() -> None:
    PlanMachine.TestCase().runTest()
