"""Who a campaign reaches, resolved through the API (create_campaign's preview, resume, and the pending-
campaign lines of edit previews in tools/_impact). A leaf of the tool modules: it reads contacts and groups
through their routes (tools/_routes.py), so the modules that use it never import each other in a circle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..server.api.route import Route
from ..server.call.context import CallContext
from ..server.untrusted import quote_untrusted
from ._routes import CONTACTS, GROUP, GROUP_MEMBERS

# Selections are resolved by paging through contacts (the API has no tag filter), a page at a time.
PAGE_SIZE = 100
RESOLVED_AT_START = "people now in the selection; resolved when it starts"


@dataclass(frozen=True)
class Recipients:
    """Who a campaign reaches, resolved through the API: exact, never a lower bound."""

    ids: tuple[str, ...]
    numbers: tuple[str, ...]  # phones of the resolved contacts (empty for unresolved explicit ids)
    sample: tuple[dict[str, Any], ...]
    selector: str  # in words: "members of group 'VIP'"
    left_out: tuple[str, ...] = ()  # phones of the selected contacts `leave_out` named (opted out)


async def _contacts_pages(
    call: CallContext, route: Route, key: str, path: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every row of a cursor-paged contact listing, reporting progress; each page takes a limiter slot."""
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await call.api.call(route, path=path, query={"limit": PAGE_SIZE, "cursor": cursor})
        rows.extend(page.get(key) or [])
        total = page.get("total")
        await call.report_progress(float(len(rows)), float(total) if total else None, f"resolved {len(rows)} contacts")
        cursor = page.get("nextCursor")
        if not cursor or not page.get("hasMore", True):
            return rows


async def resolve_recipients(
    call: CallContext, args: dict[str, Any], *, need_numbers: bool, leave_out: Callable[[str], object] | None = None
) -> Recipients:
    """Who the selection reaches; with `leave_out` (a phone -> truthy test: opted out), without those contacts."""
    kind = args["recipients_type"]
    if kind == "explicit" and not need_numbers:
        ids = tuple(dict.fromkeys(args["contact_ids"]))
        return Recipients(ids, (), (), "the listed contacts (unknown ids are skipped)")
    if kind == "group":
        group = await call.api.call(GROUP, path={"groupId": args["group_id"]})
        rows = await _contacts_pages(call, GROUP_MEMBERS, "members", {"groupId": args["group_id"]})
        selector = f"members of group {quote_untrusted(group.get('name') or '?', 60)}"
    else:
        rows = await _contacts_pages(call, CONTACTS, "contacts")
        if kind == "tags":
            wanted = set(args["tags"])
            rows = [c for c in rows if wanted & set(c.get("tags") or [])]
            selector = f"contacts tagged {', '.join(sorted(wanted))}"
        elif kind == "explicit":
            listed = set(args["contact_ids"])
            rows = [c for c in rows if c.get("id") in listed]
            selector = "the listed contacts (unknown ids are skipped)"
        else:
            selector = "every contact of the workspace"
    left_out = tuple(str(c["phone"]) for c in rows if leave_out and c.get("phone") and leave_out(str(c["phone"])))
    if left_out:
        rows = [c for c in rows if str(c.get("phone")) not in left_out]
    sample = tuple({"name": c.get("name"), "phone": c.get("phone")} for c in rows[:5])
    return Recipients(
        tuple(str(c["id"]) for c in rows), tuple(str(c.get("phone")) for c in rows if c.get("phone")), sample, selector,
        left_out,
    )


def frozen(who: Recipients, kind: str) -> tuple[dict[str, Any], str]:
    """The `recipients` a campaign is created with, and the preview's words for them: always the resolved
    contact ids (recipients.type=explicit). A group, tag or `all` selector sent as such is resolved by the
    API when it creates, starts or runs the campaign (the reference does not say which:
    inferred(campaign-resolution-time)), so people added after the confirmation would be messaged.
    Listed ids the workspace does not know are dropped, as the API would drop them."""
    recipients = {"type": "explicit", "value": list(who.ids)}
    if kind == "explicit":
        return recipients, who.selector
    return recipients, f"{who.selector}, frozen to these {len(who.ids)} contacts (people added later are not messaged)"


def remaining(stats: dict[str, Any]) -> int:
    """Who the resolved run has still to message: `queued` when the API gives it, else what is not done."""
    if stats.get("queued") is not None:
        return int(stats["queued"])
    done = sum(int(stats.get(k) or 0) for k in ("sent", "failed", "skipped", "cancelled"))
    return max(0, int(stats.get("planned") or 0) - done)


async def recipients_now(call: CallContext, campaign: dict[str, Any]) -> dict[str, Any]:
    """{recipients: N} the campaign will still message, right whenever the API resolves recipients: its own
    count once a run is resolved; else (zeroed stats before the start, a repeat between runs) the people its
    selector reaches now, with `resolved` saying so (inferred(campaign-resolution-time))."""
    left = remaining(campaign.get("stats") or {})
    if left:
        return {"recipients": left}
    who = await resolve_recipients(call, selector_args(campaign.get("recipients") or {}), need_numbers=False)
    return {"recipients": len(who.ids), "resolved": RESOLVED_AT_START}


def selector_args(selector: dict[str, Any]) -> dict[str, Any]:
    """A stored campaign's `recipients` as create_campaign's arguments (to resolve them again)."""
    kind = selector.get("type") or "all"
    return {
        "recipients_type": kind,
        "tags": selector.get("value") if kind == "tags" else None,
        "contact_ids": selector.get("value") if kind == "explicit" else None,
        "group_id": selector.get("groupId") if kind == "group" else None,
    }
