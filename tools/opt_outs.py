"""Opt-outs: the numbers a workspace must not message, kept by this server (server/opt_outs.py) since the API
has no such list. Filled from inbound messages that say STOP (and its French, Portuguese, Spanish words) and
by add_opt_out; every sending plan leaves listed numbers out (`opted_out`, called by the planners).

When inbound messages are scanned: when a list is read (list_opt_outs, msgflash://opt-outs) and whenever a
sending plan is built, not when someone happens to read their messages. Only the second is sound (a STOP
nobody read must still be honoured), and it stays cheap: a scan reads only the inbound messages newer than
the workspace's scan mark (one page in practice), bounded by SCAN_PAGES. Because the plan is rebuilt from
live data before it acts, a STOP arriving between preview and confirmation changes the plan's digest.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import Field

from ..server.api import Api
from ..server.call.context import CallContext
from ..server.core.results import Preview, Reply
from ..server.guard.plan import Plan, from_preview
from ..server.opt_outs import OptOut, OptOutStore
from ..server.registry import Effect, Example, NoArgs, Seed, ToolInput, Toolset
from ..server.untrusted import quote_untrusted
from ._routes import CONTACTS, MESSAGES
from ._types import Phone
from .inbound import is_opt_out

log = logging.getLogger("msgflash_mcp.opt_outs")

toolset = Toolset("opt-outs", "Numbers that asked not to be messaged; every send leaves them out.")

SCAN_PAGES = 5  # inbound pages one scan reads at most (newest first, stopping at the scan mark)
SCAN_PAGE_SIZE = 100
RISK_NAMED = 5  # opted-out numbers named one by one in a risk line


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


def why(entry: OptOut) -> str:
    """How a person reads one entry: "+336… (wrote STOP on 2026-12-01)"."""
    if entry.source == "inbound":
        return f"{entry.phone} (wrote {entry.word or 'an opt-out word'} on {_day(entry.at)})"
    return f"{entry.phone} (added on {_day(entry.at)})"


async def _keep(store: OptOutStore, workspace: str, entry: OptOut, unsaved: list[OptOut]) -> None:
    """Record an opt-out found by a scan; when the store cannot be written (another process holds the
    SQLite file's write lock), the scan still honours it (`unsaved`) and the next scan writes it, since the
    mark does not move."""
    try:
        await store.add(workspace, entry)
    except Exception as exc:  # any store failure: honour the opt-out anyway, say why in the log
        log.warning("opt-out of %s not saved yet (%s); honoured for this plan", workspace, type(exc).__name__)
        unsaved.append(entry)


async def scan_inbound(api: Api, store: OptOutStore, workspace: str, unsaved: list[OptOut] | None = None) -> bool:
    """Record the opt-outs written since the workspace's scan mark; True when everything new was read.

    Timestamps are compared as text: the API writes every one as UTC ISO 8601 with milliseconds and a Z
    (REFERENCE §19.1), so text order is time order. The mark moves only after a complete scan, so a bound
    hit never skips older messages: the next scan reads them again."""
    try:
        mark = await store.mark(workspace)
    except Exception as exc:  # the store cannot be opened now (a locked file): read every page this time
        log.warning("opt-out store of %s unavailable (%s); scanning without its mark", workspace, type(exc).__name__)
        mark = None
        unsaved = unsaved if unsaved is not None else []
    newest: str | None = None
    cursor: str | None = None
    for _ in range(SCAN_PAGES):
        page = await api.call(MESSAGES, query={"status": "received", "limit": SCAN_PAGE_SIZE, "cursor": cursor})
        for message in page.get("messages") or []:
            created = str(message.get("createdAt") or "")
            if mark is not None and created <= mark:
                break
            newest = newest or created
            sender, body = message.get("from"), message.get("body")
            if message.get("direction", "inbound") == "inbound" and sender and is_opt_out(body):
                at = datetime.fromisoformat(created).timestamp() if created else 0.0
                word = str(body).strip()[:20]
                entry = OptOut(str(sender), at, "inbound", word=word, message_id=message.get("id"))
                await _keep(store, workspace, entry, unsaved if unsaved is not None else [])
        else:
            cursor = page.get("nextCursor")
            if cursor and page.get("hasMore", True):
                continue
        if newest and not unsaved:
            try:
                await store.set_mark(workspace, newest)
            except Exception as exc:  # the next scan reads these messages again
                log.warning("opt-out scan mark of %s not saved (%s)", workspace, type(exc).__name__)
        return True
    return False


@dataclass(frozen=True)
class OptedOut:
    """A workspace's opt-out list as a plan sees it, right after a scan."""

    entries: tuple[OptOut, ...]
    complete: bool  # the scan read every inbound message since the last one

    def find(self, number: str | None) -> OptOut | None:
        wanted = _digits(number or "")
        return next((e for e in self.entries if wanted and _digits(e.phone) == wanted), None)

    def among(self, numbers: Iterable[str | None]) -> list[OptOut]:
        found = (self.find(n) for n in numbers)
        return list({e.phone: e for e in found if e is not None}.values())

    def risk(self, found: list[OptOut], what: str = "left out") -> str:
        """"2 opted out, left out: +336… (wrote STOP on …), …"."""
        named = ", ".join(why(e) for e in found[:RISK_NAMED])
        more = f" and {len(found) - RISK_NAMED} more" if len(found) > RISK_NAMED else ""
        return f"{len(found)} opted out, {what}: {named}{more}"

    def note_incomplete(self, preview: Preview) -> None:
        if not self.complete:
            preview.warnings.append(
                f"more than {SCAN_PAGES * SCAN_PAGE_SIZE} new inbound messages: opt-outs among older ones are not "
                "checked yet (call again to read further)"
            )


async def opted_out(call: CallContext) -> OptedOut:
    """The call's workspace's opt-outs, after reading the inbound messages that arrived since the last scan."""
    workspace = call.workspace_name
    if workspace is None:
        return OptedOut((), True)
    unsaved: list[OptOut] = []
    complete = await scan_inbound(call.api, call.opt_outs, workspace, unsaved)
    try:
        saved = await call.opt_outs.list(workspace)
    except Exception:  # unavailable (logged by the scan): what this scan found is still honoured
        saved = []
    listed = {e.phone for e in saved}
    return OptedOut((*saved, *(e for e in unsaved if e.phone not in listed)), complete)


async def guard_direct_send(call: CallContext, preview: Preview, to: str, override: bool) -> None:
    """send/schedule_message: a number that opted out is refused, unless send_message's `override_opt_out` is
    given, which the confirmation then names (and the plan's digest covers: `confirm_reason`)."""
    opted = await opted_out(call)
    opted.note_incomplete(preview)
    entry = opted.find(to)
    if entry is None:
        return
    if not override:
        preview.blocked = (
            f"{why(entry)} opted out. Do not message them unless they asked for this very message; only then "
            "send it with send_message and override_opt_out=true"
        )
        return
    preview.confirm_reason = f"override_opt_out: {why(entry)} opted out and is messaged anyway"
    preview.warnings.append(opted.risk([entry], "messaged anyway (override_opt_out)"))


# ----------------------------------------------------------------------------------------- tools


async def _contact_name(call: CallContext, phone: str) -> str | None:
    page = await call.api.call(CONTACTS, query={"search": phone, "limit": 10})
    for contact in page.get("contacts") or []:
        if _digits(str(contact.get("phone") or "")) == _digits(phone):
            return quote_untrusted(contact.get("name") or "?", 60)
    return None


def _entry_row(entry: OptOut) -> dict[str, Any]:
    row = {k: v for k, v in entry.as_dict().items() if v is not None}
    row["at"] = datetime.fromtimestamp(entry.at, UTC).isoformat(timespec="seconds")
    return row


async def opt_out_rows(api: Api, store: OptOutStore) -> dict[str, Any]:
    """list_opt_outs and msgflash://opt-outs: the active workspace's list, after a scan."""
    workspace = api.workspace.name if api.workspace else None
    if workspace is None:
        return {"opt_outs": [], "complete": True}
    complete = await scan_inbound(api, store, workspace)
    return {"opt_outs": [_entry_row(e) for e in await store.list(workspace)], "complete": complete}


@toolset.tool(MESSAGES, Effect.READ)
async def list_opt_outs(call: CallContext, args: NoArgs) -> Reply:
    """Opted-out numbers; sends skip them."""
    data = await opt_out_rows(call.api, call.opt_outs)
    rows = data["opt_outs"]
    more = "" if data["complete"] else " (older inbound messages not scanned yet)"
    return Reply(f"{len(rows)} opted-out number(s) in {call.label}{more}", data)


class OptOutInput(ToolInput):
    phone: Annotated[Phone, Field(description="E.164")]


def _plan(call: CallContext, preview: Preview, phone: str, change: str) -> Plan:
    """A change to the local list: no API request; the number and the change are what the digest covers."""
    return from_preview(
        preview, tool=call.spec.name, workspace=call.workspace_name, label=call.label,
        content={"opt_out": change, "phone": phone},
    )


async def plan_add_opt_out(call: CallContext, input: OptOutInput) -> Plan:
    preview = Preview(action=f"Add {input.phone} to the opt-out list")
    name = await _contact_name(call, input.phone)
    preview.details["contact"] = name or "no contact has this number"
    listed = (await opted_out(call)).find(input.phone)
    if listed is not None:
        preview.details["already listed"] = why(listed)
    return _plan(call, preview, input.phone, "add")


@toolset.tool(CONTACTS, Effect.WRITE, plan=plan_add_opt_out, example=Example({"phone": "+33612345001"}))
async def add_opt_out(call: CallContext, args: OptOutInput) -> Reply:
    """Opt a number out; sends skip it."""
    workspace = call.workspace_name
    assert workspace is not None  # a workspace-scoped tool
    entry = OptOut(args.phone, call.now.timestamp(), "added")
    added = await call.opt_outs.add(workspace, entry)
    summary = f"{args.phone} opted out" if added else f"{args.phone} was already on the opt-out list"
    return Reply(summary + f" in {call.label}: sends and campaigns leave it out", _entry_row(entry))


async def plan_remove_opt_out(call: CallContext, input: OptOutInput) -> Plan:
    listed = (await opted_out(call)).find(input.phone)
    if listed is None:
        preview = Preview(action=f"Remove {input.phone} from the opt-out list")
        preview.blocked = f"{input.phone} is not on the opt-out list; nothing to remove (list_opt_outs shows it)"
        return _plan(call, preview, input.phone, "remove")
    preview = Preview(action=f"Remove {listed.phone} from the opt-out list: messages may reach them again")
    preview.details["opted out"] = why(listed)
    preview.details["contact"] = await _contact_name(call, listed.phone) or "no contact has this number"
    # Undoing someone's own request is not a routine edit: the person confirms it, like a send.
    preview.confirm_reason = "it lets messages reach a person who asked not to get them"
    return _plan(call, preview, listed.phone, "remove")


@toolset.tool(
    CONTACTS, Effect.WRITE, plan=plan_remove_opt_out, confirmable=True,
    example=Example({"phone": Seed("OPT_OUT_SENDER")}),  # the seed's one STOP
)
async def remove_opt_out(call: CallContext, args: OptOutInput) -> Reply:
    """Opt a number back in if they asked."""
    workspace = call.workspace_name
    assert workspace is not None
    phone = str(call.planned.content["phone"]) if call.planned.content else args.phone
    removed = await call.opt_outs.remove(workspace, phone)
    summary = f"{phone} removed from the opt-out list" if removed else f"{phone} was no longer on the opt-out list"
    return Reply(summary + f" in {call.label}", {"phone": phone, "removed": removed})
