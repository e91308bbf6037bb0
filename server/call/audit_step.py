"""The one audit point: every round of a mutating call that got as far as binding ends in exactly one line,
whatever happened, unforeseen exceptions included.

`audited_round` wraps the whole round (the SDK's resolvers and the tool body: `AuditedTool.run`). The steps
inside fill in the round's `RoundRecord` as they learn facts (workspace, how it was confirmed, the outcome,
the API's id); none of them writes to the audit log. When the round ends the record is written once:
- a result: the outcome the steps set (ok, confirmation_required, declined, replayed, dry_run);
- an exception: the outcome a step attached to it (`RoundRecord.failing`), else the unforeseen exception's
  type name;
- a 2026-07-28 round that only asks a question (the SDK's `InputRequiredResult`): nothing yet, the round that
  carries the answer records the outcome;
- arguments the SDK refused before binding: nothing (no call was bound, nothing could happen).

Why a context variable: the SDK runs the resolvers and the body as separate functions; the record is the
one object of this round they all reach without threading it through the SDK. It is set and reset here only.
Recording can never change the call's result: a failure to write is logged (scrubbed) and swallowed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import anyio

from ..core.errors import MsgFlashError
from ..observability import annotate
from ..registry import ToolSpec
from ..runtime import Runtime
from .principal import Caller

log = logging.getLogger("msgflash_mcp.audit")

# A write to the audit log at the end of a cancelled round still happens, within this bound.
WRITE_TIMEOUT = 5.0


@dataclass
class RoundRecord:
    """What one round's audit line says, filled in by the steps as they learn it."""

    spec: ToolSpec
    principal: str
    client: str | None = None  # for forensics, never identity (server/call/principal.py `Caller`)
    scopes: tuple[str, ...] | None = None  # a signed-in person's granted scopes
    args: Mapping[str, Any] | None = None  # the tool's own validated arguments; None until the call is bound
    workspace: str | None = None
    role: str | None = None  # a signed-in person's role in `workspace` ("none": refused for having none)
    confirmation: str = "none"  # elicited | token | card | off | none | dry-run
    outcome: str | None = None  # set when the round has a result
    api_id: str | None = None
    failing: str = "error: invalid"  # the outcome of an exception raised now (a step updates it as it goes)
    asking: bool = field(default=False)  # a 2026-07-28 round that only asks: no line yet

    def bound(self, args: Mapping[str, Any], confirmation: str) -> None:
        self.args = args
        self.confirmation = confirmation

    def failed_with(self, exc: MsgFlashError) -> None:
        """An API or workspace failure: its code is the outcome (NOT_FOUND, ...)."""
        code = getattr(exc, "code", None)
        self.failing = f"error: {code if isinstance(code, str) and code else type(exc).__name__}"

    def finish(self, outcome: str, api_id: str | None = None) -> None:
        self.outcome = outcome
        self.api_id = api_id


_current: ContextVar[RoundRecord | None] = ContextVar("msgflash_round", default=None)


def current_round() -> RoundRecord:
    """The record of the round running now (inside `audited_round`)."""
    record = _current.get()
    if record is None:
        raise RuntimeError("a mutating call's steps run inside audited_round")
    return record


def _outcome_of(record: RoundRecord, exc: BaseException) -> str:
    from mcp.server.mcpserver.exceptions import ToolError

    if isinstance(exc, anyio.get_cancelled_exc_class()):
        return "error: cancelled"
    root: BaseException = exc
    while root.__cause__ is not None and isinstance(root, ToolError):  # the SDK wraps what a step raised
        root = root.__cause__
    if isinstance(root, ToolError):
        return record.failing
    return f"error: {type(root).__name__}"


@asynccontextmanager
async def audited_round(runtime: Runtime, spec: ToolSpec, caller: Caller) -> AsyncGenerator[RoundRecord]:
    """The one audit point of a round: yields its record, writes it once when the round ends."""
    record = RoundRecord(spec=spec, principal=caller.principal, client=caller.client, scopes=caller.scopes)
    reset = _current.set(record)
    try:
        yield record
    except BaseException as exc:
        record.outcome = _outcome_of(record, exc)
        raise
    finally:
        _current.reset(reset)
        # The same facts on the SDK's span of this tools/call, when traces are exported (server/observability.py).
        annotate(principal=record.principal, tool=spec.name, workspace=record.workspace, role=record.role,
                 confirmation=record.confirmation, outcome=record.outcome)
        if record.args is not None and not record.asking:
            with anyio.CancelScope(shield=True), anyio.move_on_after(WRITE_TIMEOUT):
                await _write(runtime, record)


async def _write(runtime: Runtime, record: RoundRecord) -> None:
    assert record.args is not None
    try:
        await runtime.audit.record(
            tool=record.spec.name,
            workspace=record.workspace,
            args=dict(record.args),
            keep=record.spec.audit_kept,
            confirmation=record.confirmation,
            outcome=record.outcome or "error: unknown",
            api_id=record.api_id,
            principal=record.principal,
            role=record.role,
            client=record.client,
            scopes=record.scopes,
        )
    except Exception as exc:  # the audit is a record of the action, never a reason to misreport it
        log.error("audit record for %s failed: %s", record.spec.name,
                  runtime.scrubber.text(f"{type(exc).__name__}: {exc}"))
