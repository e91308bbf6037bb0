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
