"""Confirmation guard: nothing that messages people, deletes data or redirects data flows happens
without a confirmation that shows its blast radius.

Two paths, chosen per call:
- elicitation (a form in the client) where the client can show one, through the SDK's
  `Resolve` + `Elicit`, which works on both protocol eras;
- a bound single-use token where it can't: the first call returns `confirmation_required` with the
  preview and a token and does nothing; the same call with `confirm_token` acts. A token is
  >=128 random bits, stored server-side only as a hash, bound to tool + digest of the normalised
  arguments + workspace + principal, expires after 10 minutes, and is single use: a replay returns
  the first call's result and never acts twice.

Dry-run returns the preview of every mutating call and sends nothing; `MSGFLASH_CONFIRM=off`
skips confirmation (loud at start-up). Policies (recipient and URL allow-lists, max recipients)
are checked on the preview, before anyone is asked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import anyio
from mcp.server.mcpserver import Context, Elicit
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field
from pydantic_core import to_jsonable_python

from ..registry import ToolSpec
from ..results import Preview
from ..settings import ConfirmMode, Settings

TOKEN_TTL = 600.0
TOKEN_PREFIX = "cfm_"


class ConfirmForm(BaseModel):
    """The form a person sees; flat and primitive as elicitation requires."""

    confirm: bool = Field(description="Tick to go ahead; leave unticked to cancel")


def normalise(args: dict[str, Any]) -> str:
    """Canonical JSON of the validated arguments (the token field excluded): what a token is bound to."""
    clean = {k: v for k, v in args.items() if k != "confirm_token" and v is not None}
    return json.dumps(to_jsonable_python(clean), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(tool: str, args: dict[str, Any], workspace: str, principal: str) -> str:
    payload = "\x1f".join([tool, normalise(args), workspace, principal]).encode()
    return hashlib.sha256(payload).hexdigest()


class TokenRecord(BaseModel):
    tool: str
    binding: str  # digest of tool + normalised args + workspace + principal
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

    async def save_result(self, token_hash: str, result: dict[str, Any], ttl: float) -> None: ...


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

    async def save_result(self, token_hash: str, result: dict[str, Any], ttl: float) -> None:
        async with self._lock:
            record = self._records.get(token_hash)
            if record is not None:
                record.result = result


@dataclass
class Decision:
    """What the guard lets the tool do on this call."""

    kind: Literal["proceed", "pending", "dry_run", "replay", "declined"]
    path: str  # how it was confirmed: elicited | token | off | none | dry-run
    preview: Preview | None = None
    token: str | None = None  # the raw token, only on 'pending'
    token_hash: str | None = None  # on 'proceed' via token: where to save the result for replays
    replay: dict[str, Any] | None = None
    answer: str | None = None  # on 'declined': the person's elicitation action (decline | cancel)


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


def _digits(number: str) -> str:
    """A phone number as its digits only: '+33 6 12-34' and '33612 34' are one recipient."""
    return "".join(ch for ch in number if ch.isdigit())


def _allowed_url(url: str, allowed: list[str]) -> bool:
    """An http(s) URL whose host is an allow-listed domain or a subdomain of one."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not host:
        return False
    for entry in allowed:
        domain = entry.strip().lower()
        if "://" in domain:  # an entry written as a URL: its host
            domain = urlsplit(domain).hostname or ""
        domain = domain.removeprefix("*.").rstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


class Guard:
    def __init__(self, settings: Settings, store: TokenStore | None = None, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.store: TokenStore = store or MemoryTokenStore(clock)
        self._clock = clock

    def policy_problem(self, preview: Preview) -> str | None:
        """A configured policy (or the preview itself) that refuses this call outright, whatever anyone confirms."""
        s = self.settings
        if preview.blocked:
            return preview.blocked
        reach = preview.recipients if preview.recipients is not None else len(set(preview.numbers)) or None
        if s.max_recipients is not None and reach is not None and reach > s.max_recipients:
            return (
                f"this would reach {reach} recipients; the configured cap per confirmation is "
                f"{s.max_recipients} (MSGFLASH_MAX_RECIPIENTS). Narrow the recipients."
            )
        if s.recipient_allowlist is not None:
            allowed = {_digits(n) for n in s.recipient_allowlist}
            outside = sorted({n for n in preview.numbers if _digits(n) not in allowed})
            if outside:
                return f"recipient(s) {', '.join(outside)} are not in MSGFLASH_RECIPIENT_ALLOWLIST"
        if s.url_allowlist is not None:
            outside = sorted({u for u in preview.urls if not _allowed_url(u, s.url_allowlist)})
            if outside:
                return f"link(s) {', '.join(outside)} point outside MSGFLASH_URL_ALLOWLIST"
        return None

    def _has_policy(self) -> bool:
        s = self.settings
        return s.max_recipients is not None or s.recipient_allowlist is not None or s.url_allowlist is not None

    async def decide(
        self,
        spec: ToolSpec,
        ctx: Context,
        args: dict[str, Any],
        *,
        workspace: str,
        principal: str,
        confirm_token: str | None,
        make_preview: Callable[[], Any],
    ) -> Decision | Elicit[ConfirmForm]:
        settings = self.settings
        binding = digest(spec.name, args, workspace, principal)

        if confirm_token and not settings.dry_run:
            return await self._redeem(spec, confirm_token, binding, make_preview)

        preview: Preview = await make_preview()
        problem = self.policy_problem(preview)
        if problem:
            raise ToolError(f"refused by policy, nothing was sent: {problem}")
        if settings.dry_run:
            return Decision("dry_run", "dry-run", preview)
        if not spec.guarded:
            return Decision("proceed", "none", preview)
        if settings.confirm is ConfirmMode.OFF:
            return Decision("proceed", "off", preview)
        if settings.confirm is ConfirmMode.AUTO and can_elicit_form(ctx):
            return Elicit(preview.as_text(workspace), ConfirmForm)
        token = TOKEN_PREFIX + secrets.token_urlsafe(24)  # 192 random bits
        record = TokenRecord(tool=spec.name, binding=binding, expires_at=self._clock() + TOKEN_TTL)
        await self.store.put(_hash(token), record, TOKEN_TTL)
        return Decision("pending", "token", preview, token=token)

    async def _redeem(
        self, spec: ToolSpec, token: str, binding: str, make_preview: Callable[[], Any] | None = None
    ) -> Decision:
        token_hash = _hash(token)
        record = await self.store.get(token_hash)
        if record is None:
            raise ToolError(
                "confirm_token is unknown or expired; nothing was sent. Call again without confirm_token "
                "to get a fresh preview and token"
            )
        if record.tool != spec.name:
            raise ToolError(
                f"confirm_token was issued for {record.tool}, not {spec.name}; nothing was sent. "
                "Call again without confirm_token"
            )
        if not hmac.compare_digest(record.binding, binding):
            raise ToolError(
                "confirm_token was issued for different arguments (or another workspace); nothing was sent. "
                "Repeat the exact previewed call, or call again without confirm_token for a new preview"
            )
        if record.used:
            return self._replayed(record)
        if record.expires_at < self._clock():
            raise ToolError(
                "confirm_token expired (tokens last 10 minutes); nothing was sent. "
                "Call again without confirm_token for a fresh preview"
            )
        if make_preview is not None and self._has_policy():
            # Policies hold at the moment of acting, not only when the token was minted: a group that grew
            # past the cap since the preview, or a replica with a stricter allow-list, still refuses.
            problem = self.policy_problem(await make_preview())
            if problem:
                raise ToolError(f"refused by policy, nothing was sent: {problem}")
        status = await self.store.claim(token_hash)
        if status == "claimed":
            return Decision("proceed", "token", token_hash=token_hash)
        if status == "missing":
            raise ToolError("confirm_token is unknown or expired; nothing was sent")
        again = await self.store.get(token_hash)
        return self._replayed(again or record)

    @staticmethod
    def _replayed(record: TokenRecord) -> Decision:
        if record.result is None:
            raise ToolError(
                "this confirm_token was already used by a call that is still running or failed; it acts only "
                "once. Check the outcome (list or get the object) before asking for a new confirmation"
            )
        return Decision("replay", "token", replay=record.result)

    async def save_result(self, decision: Decision, result: dict[str, Any]) -> None:
        if decision.token_hash:
            await self.store.save_result(decision.token_hash, result, TOKEN_TTL * 2)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
