"""Which pending campaigns an edit would change, in the words a confirmation shows a person.

- `pending_campaigns(call, template_id=..., contact=...)`: campaigns in this server's local record
  (server/campaign_record.py) that have not finished and would send differently after the edit:
  those using a template, or those reaching a contact. Every unfinished entry is consulted, whatever
  its age (a cut to the newest would let an edit under an old campaign through unasked); their live
  status and recipient count come from the API (one GET each), and one the API reports finished (or
  gone) is marked so in the record, so later lookups skip it.

Third-party text (names, phones, campaign names) passes `server.untrusted` on its way in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..server.call.context import CallContext
from ..server.campaign_record import CampaignEntry, still_pending
from ..server.core.errors import ApiError
from ..server.untrusted import one_line, quote_untrusted
from ._recipients import recipients_now
from ._routes import CAMPAIGN, CONTACT_GROUPS


def _reaches(entry: CampaignEntry, contact: dict[str, Any], group_ids: set[str]) -> bool:
    selector = entry.recipients
    kind = selector.get("type")
    if kind == "all":
        return True
    if kind == "explicit":
        return str(contact.get("id")) in {str(v) for v in selector.get("value") or []}
    if kind == "tags":  # inferred(tag-match): case-insensitive here, so a guard asks rather than misses
        own = {str(t).casefold() for t in contact.get("tags") or []}
        return bool(own & {str(t).casefold() for t in selector.get("value") or []})
    if kind == "group":
        return str(selector.get("groupId")) in group_ids
    return True  # an unknown selector: assume it may reach them (the edit is then confirmed, not silent)


async def pending_campaigns(
    call: CallContext, *, template_id: str | None = None, contact: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Unfinished campaigns of this workspace, from the local record, that use `template_id` or reach
    `contact`: [{id, name, status, recipients}] (recipients: the API's planned count)."""
    if call.workspace is None:
        return []
    api = call.api
    entries = await call.campaigns.unfinished(call.workspace.name)
    if template_id is not None:
        entries = [e for e in entries if e.template_id == template_id]
    if contact is not None and entries:
        group_ids: set[str] = set()
        if any(e.recipients.get("type") == "group" for e in entries):
            groups = await api.call(CONTACT_GROUPS, path={"id": str(contact.get("id"))})
            rows: list[Any] = groups if isinstance(groups, list) else (groups or {}).get("groups") or []
            group_ids = {str(g.get("id")) for g in rows if isinstance(g, dict)}
        entries = [e for e in entries if _reaches(e, contact, group_ids)]
    found: list[dict[str, Any]] = []
    for entry in entries:
        try:
            campaign = await api.call(CAMPAIGN, path={"id": entry.id})
        except ApiError as exc:
            if exc.status == 404:
                await call.campaigns.mark_finished(entry.id)  # deleted since: sends nothing
                continue
            raise
        status = str(campaign.get("status") or "unknown")
        if not still_pending(status, entry.repeat or campaign.get("repeat")):
            await call.campaigns.mark_finished(entry.id)
            continue
        row = {"id": entry.id, "name": one_line(campaign.get("name") or entry.name, 80), "status": status}
        found.append({**row, **await recipients_now(call, campaign)})
    return found


def campaigns_line(campaigns: Sequence[dict[str, Any]]) -> str:
    """'"Black Friday" (scheduled, 20 recipients), "Rentrée" (paused, 5 recipients)'."""
    return ", ".join(
        f"{quote_untrusted(c['name'], 40)} ({c['status']}, {c.get('recipients', '?')} recipients"
        + (f"; {c['resolved']}" if c.get("resolved") else "") + ")"
        for c in campaigns
    )
