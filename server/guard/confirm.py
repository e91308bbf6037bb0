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
An accepted 2026-07-28 answer acts once too (`ask`, `claim_answer`, `round_replay`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

import anyio
from mcp.server.mcpserver import Context, Elicit
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, ConfigDict, Field, PlainValidator

from ..canonical import canonical_json
from ..core.settings import ConfirmMode
from ..redact import without_returned_secrets
from .plan import Plan, changes
from .policy import GuardPolicy, policy_problem

TOKEN_TTL = 600.0
TOKEN_PREFIX = "cfm_"


class StaleToken(ToolError):
    """The token is gone (expired, or a restart emptied the memory store); nothing was sent. Its own type so
    the review card can re-plan into a fresh card instead of showing the model's instructions to a person."""


def _ticked(value: Any) -> bool:
    return value is True


# Strict, and never an error: only a JSON `true` is a tick. Lax pydantic would read "yes", "on" or 1 as True,
# and a client (or a model filling the form for a person) that sends such a value did not show a ticked box;
# strict pydantic would reject the answer, and the SDK would turn that into a failed call. Anything but `true`
# (a missing box included) is an unticked box: a decline, which the outcome explains.
Tick = Annotated[bool, PlainValidator(_ticked, json_schema_input_type=bool)]


def _required_box(schema: dict[str, Any]) -> None:
    schema["required"] = ["confirm"]
    schema["properties"]["confirm"].pop("default", None)


class ConfirmForm(BaseModel):
    """The form a person sees; flat and primitive as elicitation requires."""

    # The schema a form shows is unchanged (a required box, no default), though a missing box reads as unticked.
    model_config = ConfigDict(json_schema_extra=_required_box)

    confirm: Tick = Field(default=False, description="Tick to go ahead; leave unticked to cancel")


def normalise(args: dict[str, Any]) -> str:
    """Canonical JSON of the validated arguments (the token field excluded): what a token is bound to."""
    return canonical_json({k: v for k, v in args.items() if k != "confirm_token"})


def digest(tool: str, args: dict[str, Any], workspace: str, principal: str) -> str:
    payload = "\x1f".join([tool, normalise(args), workspace, principal]).encode()
    return hashlib.sha256(payload).hexdigest()


class TokenRecord(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built by the first guarded call: listing tools needs none

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


@dataclass(frozen=True)
class Presented:
    """A confirm token as `Guard.check_token` read it, once per round: where it is kept, and its record."""

    token_hash: str
    record: TokenRecord


@dataclass
class Decision:
    """What the guard lets the tool do on this call."""

    kind: Literal["proceed", "pending", "dry_run", "replay", "declined"]
    path: str  # how it was confirmed: elicited | token | card | off | none | dry-run
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


class Guarded(Protocol):
    """What the guard reads of a tool declaration (registry.ToolSpec): its name, and whether its effect is
    confirmed. Named by shape, so the guard sits below the registry, which declares plans with its types."""

    @property
    def name(self) -> str: ...

    @property
    def guarded(self) -> bool: ...


class Guard:
    """Decides, per call, whether a plan may run: policy, then dry-run / off / elicitation / token."""

    def __init__(self, policy: GuardPolicy, store: TokenStore | None = None, clock: Callable[[], float] = time.time):
        self.policy = policy
        self.store: TokenStore = store or MemoryTokenStore(clock)
        self._clock = clock

    def policy_problem(self, plan: Plan) -> str | None:
        """A configured policy (or the plan itself) that refuses this call outright, whatever anyone confirms.

        The policies live in one place, `policy.py`, evaluated on the plan's resolved recipients and URLs."""
        if plan.blocked:
            return plan.blocked
        return policy_problem(plan.numbers, plan.recipients, plan.urls, tool=plan.tool, broadcast=plan.broadcast,
                              policy=self.policy)

    def refuse_by_policy(self, plan: Plan) -> None:
        problem = self.policy_problem(plan)
        if problem:
            raise ToolError(f"refused by policy, nothing was sent: {problem}")

    async def decide(
        self,
        spec: Guarded,
        can_ask: bool,
        plan: Plan,
        *,
        args: dict[str, Any],
        principal: str,
        confirm_token: str | Presented | None,
    ) -> Decision | Elicit[ConfirmForm]:
        """What this call may do with `plan`. Policies are checked on the live plan on every path.

        `can_ask`: a form can reach a person on this request through this channel (the call layer says so:
        never for the review card, whose channel is the token kept out of the model's reach).
        `confirm_token`: as the caller sent it, or already `Presented` (checked before planning: the call
        layer reads a token once per round and hands the record on)."""
        policy = self.policy
        binding = digest(spec.name, args, "", principal)
        if confirm_token and not policy.dry_run:
            presented = confirm_token
            if isinstance(presented, str):
                checked = await self.check_token(spec, presented, args, principal)
                if isinstance(checked, Decision):
                    return checked
                presented = checked
            return await self._redeem(spec, presented, binding, plan)

        self.refuse_by_policy(plan)
        if policy.dry_run:
            return Decision("dry_run", "dry-run", plan)
        if not spec.guarded and not plan.confirm_reason:
            return Decision("proceed", "none", plan)
        if policy.confirm is ConfirmMode.OFF:
            return Decision("proceed", "off", plan)
        if can_ask and policy.confirm is ConfirmMode.AUTO:
            return Elicit(plan.as_text(), ConfirmForm)
        return await self.mint(spec, plan, binding)

    async def check_token(
        self, spec: Guarded, token: str, args: dict[str, Any], principal: str
    ) -> Presented | Decision:
        """Before any planning, the token's one read: refuse an unknown, foreign, mismatched or expired token;
        a used one returns its first result (a replay Decision; the object it acted on may be gone by now).
        Otherwise the record, `Presented`, for `decide` to redeem without reading it again."""
        token_hash = _hash(token)
        record = await self.store.get(token_hash)
        if record is None:
            raise StaleToken(
                "confirm_token is unknown or expired; nothing was sent. Call again without confirm_token "
                "to get a fresh preview and token"
            )
        self._check_owner(record, spec.name, digest(spec.name, args, "", principal))
        if record.used:
            return self._replayed(record)
        if record.expires_at < self._clock():
            raise StaleToken(
                "confirm_token expired (tokens last 10 minutes); nothing was sent. "
                "Call again without confirm_token for a fresh preview"
            )
        return Presented(token_hash, record)

    @staticmethod
    def _check_owner(record: TokenRecord, tool: str, binding: str) -> None:
        """The token was issued for this tool, these arguments and this caller."""
        if record.tool != tool:
            raise ToolError(
                f"confirm_token was issued for {record.tool}, not {tool}; nothing was sent. "
                "Call again without confirm_token"
            )
        if not hmac.compare_digest(record.binding, binding):
            raise ToolError(
                "confirm_token was issued for different arguments (or another workspace) or another caller; nothing was "
                "sent. "
                "Repeat the exact previewed call, or call again without confirm_token for a new preview"
            )

    async def cancel(self, spec: Guarded, token: str, args: dict[str, Any], principal: str) -> Presented | Decision:
        """A person declined the confirmation `token` stands for (the review card's Cancel): the token must be
        this caller's for this call, and is used up here (`Presented`: keep the decline as its result), so a
        later Approve of the same card replays the decline. A token already used gives its first result."""
        checked = await self.check_token(spec, token, args, principal)
        if isinstance(checked, Decision):
            return checked
        status = await self.store.claim(checked.token_hash)
        if status == "claimed":
            return checked
        if status == "missing":
            raise StaleToken("confirm_token is unknown or expired; nothing was sent")
        again = await self.store.get(checked.token_hash)
        return self._replayed(again or checked.record)

    async def mint(self, spec: Guarded, plan: Plan, binding: str, changes: list[str] | None = None) -> Decision:
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

    async def _redeem(self, spec: Guarded, presented: Presented, binding: str, plan: Plan) -> Decision:
        """After `check_token` passed and the live plan was built: act only on the confirmed plan, once. The
        record is the one `check_token` read; single use is the store's atomic claim, not a second read."""
        record = presented.record
        # Policies hold at the moment of acting, not only when the token was minted.
        self.refuse_by_policy(plan)
        if not hmac.compare_digest(record.plan_digest, plan.digest):
            # Same arguments, different effect (workspace switched, group grew, template edited):
            # nothing is sent; the person confirms the new plan with a new token.
            return await self.mint(spec, plan, binding, changes(record.plan, plan))
        status = await self.store.claim(presented.token_hash)
        if status == "claimed":
            return Decision("proceed", "token", plan, token_hash=presented.token_hash)
        if status == "missing":
            raise StaleToken("confirm_token is unknown or expired; nothing was sent")
        # Lost a race to a concurrent redeem: its result, once it has one.
        again = await self.store.get(presented.token_hash)
        return self._replayed(again or record)

    @staticmethod
    def _replayed(record: TokenRecord) -> Decision:
        if record.result is None:
            raise ToolError(
                "this confirmation was already used by a call that is still running or failed; it acts only "
                "once. Check the outcome (list or get the object) before asking for a new confirmation"
            )
        return Decision("replay", "token", replay=record.result)

    # ------------------------------------------------------------------ 2026-07-28 rounds
    #
    # The era's rounds carry no nonce of their own: the SDK hands handlers the unsealed `request_state`, the
    # same bytes for two identical calls. So each fresh question carries one (`ask`), stored per caller and
    # question: a later round renders the question with the stored reference, and an answer counts only for
    # the question as it was asked (the SDK re-asks otherwise). An answer acts once per reference
    # (`claim_answer`), and a round re-sent verbatim finds its first result (`round_replay`). Nothing is ever
    # released: asking afresh makes a new reference instead of freeing an old answer.

    async def ask(self, asked: str, *, fresh: bool, answer_of: Callable[[str], str]) -> str:
        """The reference of question `asked` (a `question_key`): the one it was asked with while that is
        unanswered (a new one if it is gone: the SDK then asks again), and a new one for a fresh ask once it was
        answered. A fresh ask of the same, still unanswered question keeps its reference: else it would
        invalidate the answer a concurrent re-send carries, however long planning takes (`answer_of`: the
        `answer_key` of a reference, claimed once answered)."""
        record = await self.store.get(asked)
        live = record is not None and record.expires_at >= self._clock()
        if record is not None and live and (not fresh or await self.store.get(answer_of(record.binding)) is None):
            return record.binding
        reference = secrets.token_hex(6)
        record = TokenRecord(tool="question", binding=reference, expires_at=self._clock() + TOKEN_TTL)
        await self.store.put(asked, record, TOKEN_TTL)
        return reference

    async def claim_answer(self, tool: str, answer: str, round: str) -> Decision | None:
        """Single use of an accepted 2026-07-28 answer: `answer` (an `answer_key`) is claimed atomically; the
        first claimer acts (None) and records `round` (the `round_key` it arrived in) for `round_replay`.
        Any later claim of the same answer, in whatever round, gets the first result (a replay Decision)."""
        record = TokenRecord(tool=tool, binding=answer, expires_at=self._clock() + TOKEN_TTL)
        status = await self.store.claim_new(answer, record, TOKEN_TTL)
        if status == "claimed":
            await self.store.put(round, record.model_copy(update={"used": True}), TOKEN_TTL)
            return None
        again = await self.store.get(answer)
        return self._replayed(again or record)

    async def round_replay(self, key: str) -> Decision | None:
        """The first result of a 2026-07-28 round that already acted, or None. Checked before planning: a
        verbatim re-send must get that result back, not a new question re-rendered from data (quota,
        scheduled messages) that the first write itself changed."""
        record = await self.store.get(key)
        if record is None:
            return None
        answer = await self.store.get(record.binding)  # the claimed answer keeps the result
        return self._replayed(answer or record)

    async def save_result(self, token_hash: str | None, result: dict[str, Any]) -> None:
        """Keep the outcome for replays, without the secrets it showed once (a webhook's signing secret):
        the entry outlives the call by 20 minutes, in Redis when replicas share one."""
        if token_hash:
            await self.store.save_result(token_hash, without_returned_secrets(result), TOKEN_TTL * 2)


def question_key(principal: str, tool: str, question: str) -> str:
    """Where the reference of this caller's question is kept (see `Guard.ask`)."""
    payload = "\x1f".join([principal, tool, question])
    return "asked:" + hashlib.sha256(payload.encode()).hexdigest()


def answer_key(principal: str, tool: str, reference: str) -> str:
    """Where the answer to one asked question is claimed (see `Guard.claim_answer`)."""
    payload = "\x1f".join([principal, tool, reference])
    return "answer:" + hashlib.sha256(payload.encode()).hexdigest()


def with_reference(question: str, reference: str) -> str:
    """The question as asked on 2026-07-28: its reference makes each fresh ask a different question."""
    return f"{question}\n\nConfirmation reference: {reference}"


def round_key(principal: str, tool: str, request_state: str | None, answers: Any) -> str:
    """Where an accepted 2026-07-28 round is claimed: the caller, the tool and the exact round it re-sends."""
    payload = "\x1f".join([principal, tool, request_state or "", normalise({"a": answers})])
    return "round:" + hashlib.sha256(payload.encode()).hexdigest()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
