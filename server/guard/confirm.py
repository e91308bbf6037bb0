"""Confirmation guard: nothing that messages people, deletes data or redirects data flows happens
without a confirmation that shows its blast radius.

Two paths, chosen per call:
- elicitation (a form in the client) where the client can show one, through the SDK's
  `Resolve` + `Elicit`, which works on both protocol eras;
- a bound single-use token where it can't: the first call returns `confirmation_required` with the
  plan's preview and a token and does nothing; the same call with `confirm_token` acts. A token is
  >=128 random bits, stored server-side only as a hash, bound to tool + normalised arguments +
  principal AND to the digest of the plan (`plan.Plan`: workspace, exact requests, recipients,
  rendered content), expires after 10 minutes, and is single use: a replay returns the first call's
  result and never acts twice. Same arguments but a different live plan (workspace switched, group
  grew, template edited) sends nothing and mints a new token, with the list of changes.

Every decision is made on a `Plan` built once per call (`server.call.binding`). Dry-run returns the
plan and sends nothing; `MSGFLASH_CONFIRM=off` skips confirmation (loud at start-up). Policies
(recipient and URL allow-lists, max recipients) are checked on the live plan on every path.
An accepted 2026-07-28 elicitation round is single use too (`claim_round`, keyed by `round_key`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import anyio
from mcp.server.mcpserver import Context, Elicit
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field

from ..canonical import canonical_json
from ..redact import without_returned_secrets
from ..registry import ToolSpec
from ..settings import ConfirmMode, Settings
from .plan import Plan, changes
from .policy import policy_problem

TOKEN_TTL = 600.0
TOKEN_PREFIX = "cfm_"


class StaleToken(ToolError):
    """The token is gone (expired, or a restart emptied the memory store); nothing was sent. Its own type so
    the review card can re-plan into a fresh card instead of showing the model's instructions to a person."""


class ConfirmForm(BaseModel):
    """The form a person sees; flat and primitive as elicitation requires."""

    # Strict: only a JSON `true` is a tick. Lax pydantic would read "yes", "on" or 1 as True, and a client
    # (or a model filling the form for a person) that sends such a value did not show a ticked box.
    confirm: bool = Field(strict=True, description="Tick to go ahead; leave unticked to cancel")


def normalise(args: dict[str, Any]) -> str:
    """Canonical JSON of the validated arguments (the token field excluded): what a token is bound to."""
    return canonical_json({k: v for k, v in args.items() if k != "confirm_token"})


def digest(tool: str, args: dict[str, Any], workspace: str, principal: str) -> str:
    payload = "\x1f".join([tool, normalise(args), workspace, principal]).encode()
    return hashlib.sha256(payload).hexdigest()


class TokenRecord(BaseModel):
    tool: str
    binding: str  # digest of tool + normalised args + principal
    plan_digest: str = ""  # the confirmed plan (workspace, requests, recipients, content)
    plan: dict[str, Any] | None = None  # its decisive parts, to say what changed
    expires_at: float
    used: bool = False
    result: dict[str, Any] | None = None


ClaimStatus = Literal["claimed", "used", "missing"]


class TokenStore(Protocol):
    async def put(self, token_hash: str, record: TokenRecord, ttl: float) -> None: ...
    async def get(self, token_hash: str) -> TokenRecord | None: ...
    async def claim(self, token_hash: str) -> ClaimStatus:
        """Atomically flip `used` from false to true; exactly one concurrent caller gets 'claimed'."""
        ...

    async def claim_new(self, key: str, record: TokenRecord, ttl: float) -> ClaimStatus:
        """Store `record` as used if `key` is new ('claimed'); 'used' if it already existed. Atomic."""
        ...

    async def save_result(self, token_hash: str, result: dict[str, Any], ttl: float) -> None: ...

    async def delete(self, key: str) -> None: ...


class MemoryTokenStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._records: dict[str, TokenRecord] = {}
        self._lock = anyio.Lock()
        self._clock = clock

    def _sweep(self) -> None:
        now = self._clock()
        # Used records are kept as long as unused ones would be, so replays still find their result.
        for key in [k for k, r in self._records.items() if r.expires_at + TOKEN_TTL < now]:
            del self._records[key]

    async def put(self, token_hash: str, record: TokenRecord, ttl: float) -> None:
        async with self._lock:
            self._sweep()
            self._records[token_hash] = record

    async def get(self, token_hash: str) -> TokenRecord | None:
        record = self._records.get(token_hash)
        return record.model_copy() if record else None

    async def claim(self, token_hash: str) -> ClaimStatus:
        async with self._lock:
            record = self._records.get(token_hash)
            if record is None:
                return "missing"
            if record.used:
                return "used"
            record.used = True
            return "claimed"

    async def claim_new(self, key: str, record: TokenRecord, ttl: float) -> ClaimStatus:
        async with self._lock:
            self._sweep()
            if key in self._records:
                return "used"
            self._records[key] = record.model_copy(update={"used": True})
            return "claimed"

    async def save_result(self, token_hash: str, result: dict[str, Any], ttl: float) -> None:
        async with self._lock:
            record = self._records.get(token_hash)
            if record is not None:
                record.result = result

    async def delete(self, key: str) -> None:
        async with self._lock:
            self._records.pop(key, None)


@dataclass
class Decision:
    """What the guard lets the tool do on this call."""

    kind: Literal["proceed", "pending", "dry_run", "replay", "declined"]
    path: str  # how it was confirmed: elicited | token | off | none | dry-run
    plan: Plan | None = None
    token: str | None = None  # the raw token, only on 'pending'
    token_hash: str | None = None  # on 'proceed' via token: where to save the result for replays
    replay: dict[str, Any] | None = None
    answer: str | None = None  # on 'declined': the person's elicitation action (decline | cancel)
    changes: list[str] | None = None  # on 'pending' after a changed plan: what differs from the confirmed one


def can_elicit_form(ctx: Context) -> bool:
    """True when a form elicitation can actually reach a person on this request."""
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps else None
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return False
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return True
    try:
        return bool(ctx.session.can_send_request)
    except Exception:
        return False


class Guard:
    """Decides, per call, whether a plan may run: policy, then dry-run / off / elicitation / token."""

    def __init__(self, settings: Settings, store: TokenStore | None = None, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.store: TokenStore = store or MemoryTokenStore(clock)
        self._clock = clock

    def policy_problem(self, plan: Plan) -> str | None:
        """A configured policy (or the plan itself) that refuses this call outright, whatever anyone confirms.

        The policies live in one place, `policy.py`, evaluated on the plan's resolved recipients and URLs."""
        if plan.blocked:
            return plan.blocked
        return policy_problem(plan.numbers, plan.recipients, plan.urls, tool=plan.tool, broadcast=plan.broadcast,
                              settings=self.settings)

    def refuse_by_policy(self, plan: Plan) -> None:
        problem = self.policy_problem(plan)
        if problem:
            raise ToolError(f"refused by policy, nothing was sent: {problem}")

    async def decide(
        self,
        spec: ToolSpec,
        ctx: Context | None,
        plan: Plan,
        *,
        args: dict[str, Any],
        principal: str,
        confirm_token: str | None,
    ) -> Decision | Elicit[ConfirmForm]:
        """What this call may do with `plan`. Policies are checked on the live plan on every path."""
        settings = self.settings
        binding = digest(spec.name, args, "", principal)
        if confirm_token and not settings.dry_run:
            replay = await self.check_token(spec, confirm_token, args, principal)
            return replay or await self._redeem(spec, confirm_token, binding, plan)

        self.refuse_by_policy(plan)
        if settings.dry_run:
            return Decision("dry_run", "dry-run", plan)
        if not spec.guarded and not plan.confirm_reason:
            return Decision("proceed", "none", plan)
        if settings.confirm is ConfirmMode.OFF:
            return Decision("proceed", "off", plan)
        if ctx is not None and settings.confirm is ConfirmMode.AUTO and can_elicit_form(ctx):
            return Elicit(plan.as_text(), ConfirmForm)
        return await self.mint(spec, plan, binding)

    async def check_token(self, spec: ToolSpec, token: str, args: dict[str, Any], principal: str) -> Decision | None:
        """Before any planning: refuse an unknown, foreign, mismatched or expired token; a used one returns
        its first result (a replay Decision; the object it acted on may be gone by now). None: go on."""
        record = await self.store.get(_hash(token))
        if record is None:
            raise StaleToken(
                "confirm_token is unknown or expired; nothing was sent. Call again without confirm_token "
                "to get a fresh preview and token"
            )
        if record.tool != spec.name:
            raise ToolError(
                f"confirm_token was issued for {record.tool}, not {spec.name}; nothing was sent. "
                "Call again without confirm_token"
            )
        if not hmac.compare_digest(record.binding, digest(spec.name, args, "", principal)):
            raise ToolError(
                "confirm_token was issued for different arguments (or another workspace) or another caller; nothing was "
                "sent. "
                "Repeat the exact previewed call, or call again without confirm_token for a new preview"
            )
        if record.used:
            return self._replayed(record)
        if record.expires_at < self._clock():
            raise StaleToken(
                "confirm_token expired (tokens last 10 minutes); nothing was sent. "
                "Call again without confirm_token for a fresh preview"
            )
        return None

    async def mint(self, spec: ToolSpec, plan: Plan, binding: str, changes: list[str] | None = None) -> Decision:
        """A fresh single-use token bound to this plan (and to the call's arguments and principal)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(24)  # 192 random bits
        record = TokenRecord(
            tool=spec.name,
            binding=binding,
            plan_digest=plan.digest,
            plan=plan.decisive(),
            expires_at=self._clock() + TOKEN_TTL,
        )
        await self.store.put(_hash(token), record, TOKEN_TTL)
        return Decision("pending", "token", plan, token=token, changes=changes)

    async def _redeem(self, spec: ToolSpec, token: str, binding: str, plan: Plan) -> Decision:
        """After `check_token` passed and the live plan was built: act only on the confirmed plan, once."""
        token_hash = _hash(token)
        record = await self.store.get(token_hash)
        if record is None:
            raise StaleToken("confirm_token is unknown or expired; nothing was sent")
        if record.used:
            return self._replayed(record)
        # Policies hold at the moment of acting, not only when the token was minted.
        self.refuse_by_policy(plan)
        if not hmac.compare_digest(record.plan_digest, plan.digest):
            # Same arguments, different effect (workspace switched, group grew, template edited):
            # nothing is sent; the person confirms the new plan with a new token.
            return await self.mint(spec, plan, binding, changes(record.plan, plan))
        status = await self.store.claim(token_hash)
        if status == "claimed":
            return Decision("proceed", "token", plan, token_hash=token_hash)
        if status == "missing":
            raise StaleToken("confirm_token is unknown or expired; nothing was sent")
        again = await self.store.get(token_hash)
        return self._replayed(again or record)

    @staticmethod
    def _replayed(record: TokenRecord) -> Decision:
        if record.result is None:
            raise ToolError(
                "this confirmation was already used by a call that is still running or failed; it acts only "
                "once. Check the outcome (list or get the object) before asking for a new confirmation"
            )
        return Decision("replay", "token", replay=record.result)

    async def claim_round(self, tool: str, key: str, asked: str) -> Decision | None:
        """Single use of an accepted 2026-07-28 elicitation round: the first arrival acts (None), a verbatim
        re-send of the same final round gets the first result back (a replay Decision). `asked` (the
        `question_key` of the question it answers) remembers which round acted on that question."""
        record = TokenRecord(tool=tool, binding=key, expires_at=self._clock() + TOKEN_TTL)
        status = await self.store.claim_new(key, record, TOKEN_TTL)
        if status == "claimed":
            await self.store.put(asked, record, TOKEN_TTL)
            return None
        again = await self.store.get(key)
        return self._replayed(again or record)

    async def new_question(self, asked: str) -> None:
        """A 2026-07-28 call asking a question afresh (its first round) is a new call, not a re-send: rounds
        carry no nonce, so an identical earlier call that acted on the same question would otherwise make
        this one's accepted answer look like a replay. A client re-sending a final round never asks again."""
        earlier = await self.store.get(asked)
        if earlier is not None:
            await self.store.delete(earlier.binding)
            await self.store.delete(asked)

    async def round_replay(self, key: str) -> Decision | None:
        """The first result of a 2026-07-28 round that already acted, or None. Checked before planning: a
        verbatim re-send must get that result back, not a new question re-rendered from data (quota,
        scheduled messages) that the first write itself changed."""
        record = await self.store.get(key)
        return self._replayed(record) if record is not None else None

    async def save_result(self, token_hash: str | None, result: dict[str, Any]) -> None:
        """Keep the outcome for replays, without the secrets it showed once (a webhook's signing secret):
        the entry outlives the call by 20 minutes, in Redis when replicas share one."""
        if token_hash:
            await self.store.save_result(token_hash, without_returned_secrets(result), TOKEN_TTL * 2)


def question_key(principal: str, tool: str, question: str) -> str:
    """Which round last acted on this exact question for this caller (see `Guard.new_question`)."""
    payload = "\x1f".join([principal, tool, question])
    return "asked:" + hashlib.sha256(payload.encode()).hexdigest()


def round_key(principal: str, tool: str, request_state: str | None, answers: Any) -> str:
    """Where an accepted 2026-07-28 round is claimed: the caller, the tool and the exact round it re-sends."""
    payload = "\x1f".join([principal, tool, request_state or "", normalise({"a": answers})])
    return "round:" + hashlib.sha256(payload.encode()).hexdigest()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
