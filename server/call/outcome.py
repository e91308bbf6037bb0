"""From what happened to the `ToolOutput` envelope: acted, not acted (pending, dry run, declined, replay),
and failures turned into readable `ToolError`s.

Outcome is never hidden: once a mutating request may have left, a failure is reported as
"outcome unknown: check ... before retrying", never as a bare error; an unexpected exception
becomes a ToolError naming its cause and the next step, and is logged with its traceback
(scrubbed) on the `msgflash_mcp.tools` logger.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from ..core.errors import MsgFlashError, OutcomeUnknown
from ..core.results import UNTRUSTED_NOTE, Reply, ToolOutput
from ..guard import Decision
from ..redact import Scrubber
from ..registry import ToolSpec
from ..untrusted import clean_text, sanitize
from ..wire import json_list, json_object

log = logging.getLogger("msgflash_mcp.tools")


def acted(reply: Reply, label: str | None, *, third_party: bool) -> ToolOutput:
    data = sanitize(reply.data) if third_party else reply.data
    # Summaries quote API data too (a contact's name, a message body): clean them like the data.
    summary = clean_text(reply.summary) if third_party else reply.summary
    return ToolOutput(
        status="ok",
        workspace=label,
        summary=summary,
        data=data,
        next_cursor=reply.next_cursor,
        note=UNTRUSTED_NOTE if third_party and _has_text(data) else None,
    )


def not_acted(spec: ToolSpec, decision: Decision, label: str | None) -> ToolOutput:
    if decision.kind == "replay" and decision.replay is not None:
        replay = dict(decision.replay)
        replay["status"] = "replayed"
        replay["summary"] = "Already done with this confirmation (not repeated): " + str(replay.get("summary", ""))
        return ToolOutput.model_validate(replay)
    plan = decision.plan
    preview = plan.view(decision.changes) if plan else None
    action = plan.action if plan else spec.title
    if decision.kind == "pending":
        if decision.changes:
            lead = (
                f"Nothing was sent: what {spec.name} would do changed since it was confirmed "
                f"({'; '.join(decision.changes)}). Show the new preview to the user; only if they agree, "
            )
        else:
            lead = f"Confirmation required, nothing was done yet: {action}. Show the preview to the user; only if they agree, "
        how = (
            f"call {spec.name} again with identical arguments plus confirm_token (valid 10 minutes, once)."
            if decision.token
            else f"call {spec.name} again with identical arguments to be asked again."
        )
        return ToolOutput(
            status="confirmation_required", workspace=label, summary=lead + how, preview=preview,
            confirm_token=decision.token,
        )
    if decision.kind == "dry_run":
        return ToolOutput(
            status="dry_run", workspace=label, summary=f"Dry run, nothing was sent: {action}.", preview=preview
        )
    return ToolOutput(
        status="declined",
        workspace=label,
        summary=f"Not done: {DECLINED.get(decision.answer or '', DECLINED['decline'])}. Nothing was sent or changed.",
        note="Do not retry unless the user asks again.",
    )


# Why nothing was done, by the person's answer (Decision.answer).
DECLINED = {
    "decline": "the user declined the confirmation",
    "cancel": "the user cancelled the confirmation",
    "card": "the user cancelled in the review card",
    # A form answered "accept" without a JSON `true` in the box ("yes", 1, "true", nothing): not a tick.
    "unticked": "the confirmation form came back without its box ticked (only a ticked box goes ahead)",
}


_TEXT_KEYS = {"body", "text", "name", "description", "caption", "title", "footer", "rendered", "fullName", "content"}


def _has_text(data: object) -> bool:
    if (mapping := json_object(data)) is not None:
        return any(k in _TEXT_KEYS or _has_text(v) for k, v in mapping.items())
    if (items := json_list(data)) is not None:
        return any(_has_text(v) for v in items[:50])
    return False


def error_name(exc: MsgFlashError) -> str:
    """The API's error code when there is one (NOT_FOUND, ...), else the kind of failure."""
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) and code else type(exc).__name__


def api_id(data: object) -> str | None:
    answer = json_object(data) or {}
    for key in ("id", "jobId", "lookupId", "providerMessageId"):
        value = answer.get(key)
        if isinstance(value, str):
            return value
    return None


def api_failure(exc: MsgFlashError, scrubber: Scrubber) -> ToolError:
    return ToolError(scrubber.text(exc.for_model()))


def unexpected_failure(spec: ToolSpec, exc: BaseException, scrubber: Scrubber, *, write_started: bool) -> ToolError:
    """A readable ToolError for a bug or an unforeseen failure; the traceback goes to stderr, scrubbed."""
    cause = scrubber.text(f"{type(exc).__name__}: {exc}")[:300]
    log.error("%s failed unexpectedly: %s", spec.name, cause, exc_info=scrubbed_exc_info(exc, scrubber))
    if write_started:
        unknown = OutcomeUnknown(
            f"{spec.name} failed after its request may have reached MsgFlash ({cause})",
            "check the result with the matching list/get tool (list_messages for sends) before retrying",
        )
        return ToolError(scrubber.text(unknown.for_model()))
    return ToolError(
        f"{spec.name} failed inside the server before anything was sent ({cause}). Nothing was changed; "
        "retry once, and if it fails again report this message to the server's operator."
    )


def scrubbed_exc_info(exc: BaseException, scrubber: Scrubber) -> tuple[type[BaseException], BaseException, Any]:
    """An exc_info whose message went through the scrubber (the traceback frames carry code, not secrets)."""
    try:
        clean = type(exc)(scrubber.text(str(exc)))
        clean.__traceback__ = exc.__traceback__
        return type(exc), clean, exc.__traceback__
    except Exception:
        return type(exc), exc, exc.__traceback__
