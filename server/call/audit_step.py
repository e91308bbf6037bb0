"""One audit line per mutating call. Recording can never change the call's result: a failure to write
the audit log after the API acted is logged (scrubbed) and swallowed, so a done action is never
reported as an error."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..registry import ToolSpec
from ..runtime import Runtime
from .context import CallContext

log = logging.getLogger("msgflash_mcp.audit")


async def audit(
    runtime: Runtime,
    spec: ToolSpec,
    *,
    workspace: str | None,
    args: Mapping[str, Any],
    confirmation: str,
    outcome: str,
    principal: str,
    api_id: str | None = None,
) -> None:
    if not spec.effect.mutating:
        return
    try:
        await runtime.audit.record(
            tool=spec.name,
            workspace=workspace,
            args=args,
            keep=spec.audit_kept,
            confirmation=confirmation,
            outcome=outcome,
            api_id=api_id,
            principal=principal,
        )
    except Exception as exc:  # the audit is a record of the action, never a reason to misreport it
        log.error("audit record for %s failed: %s", spec.name, runtime.scrubber.text(f"{type(exc).__name__}: {exc}"))


async def audit_call(
    runtime: Runtime,
    call: CallContext,
    args: Mapping[str, Any],
    *,
    confirmation: str,
    outcome: str,
    api_id: str | None = None,
) -> None:
    """The audit line of a bound call: its tool, workspace and principal are the binding's."""
    await audit(runtime, call.spec, workspace=call.workspace_name, args=args, confirmation=confirmation,
                outcome=outcome, principal=call.principal, api_id=api_id)
