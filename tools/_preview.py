"""The parts of a sending plan every sending tool shares: its content (`describe_content`, the template
rendered once), the instance it leaves from, the quota it uses and when it goes.

send_message, schedule_message, create_campaign, resume_campaign and publish_status build their plans
from these, so a message and a campaign carrying the same content preview it the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from ..server.api import Api
from ..server.core.errors import ApiError, WorkspaceError
from ..server.core.results import Preview
from ..server.core.settings import zone_or_none
from ..server.guard.policy import urls_in_text
from ..server.untrusted import one_line
from ._content import Content, Rendered, Variables
from .billing import USAGE
from .contacts import CONTACT
from .instances import HEALTH, INSTANCE
from .templates import TEMPLATE, TEMPLATE_PREVIEW

TimezoneArg = Annotated[str | None, Field(description="IANA zone for local time")]


def utc_iso(when: datetime) -> str:
    """ISO 8601 in UTC with a Z, as the API writes timestamps."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def when_part(when: datetime, zone: str | None, default_zone: str | None, repeat: str = "none") -> dict[str, Any]:
    """The plan's `when`: UTC (decisive) plus the local time in the person's zone (shown only): the
    `timezone` argument, else MSGFLASH_TIMEZONE, else UTC only."""
    out: dict[str, Any] = {"utc": utc_iso(when)}
    name = zone or default_zone
    if name:
        tz = zone_or_none(name)
        if tz is None:
            raise ToolError(f"timezone {name!r} is not an IANA time zone name; use e.g. Europe/Paris")
        out["local"] = f"{when.astimezone(tz):%Y-%m-%d %H:%M} ({name})"
    out["repeat"] = repeat
    return out


def add_urls(preview: Preview, *urls: str | None) -> None:
    for url in urls:
        if url and url not in preview.urls:
            preview.urls.append(url)


def instance_part(instance: dict[str, Any], instance_id: str) -> dict[str, Any]:
    """The plan's `instance`: id (decisive), name, number and state (shown only)."""
    return {
        "id": instance_id,
        "name": instance.get("name") or instance_id,
        "number": instance.get("waNumber"),
        "state": instance.get("status") or "unknown",
    }


async def describe_instance(api: Api, instance_id: str, preview: Preview, *, effect: str) -> dict[str, Any]:
    """Read the sending instance; warn when it is not connected."""
    instance = await api.call(INSTANCE, path={"id": instance_id})
    name, status = instance.get("name") or instance_id, instance.get("status") or "unknown"
    if status != "connected":
        preview.warnings.append(f"instance {name} is {status}: {effect} until it is reconnected in the dashboard")
    else:
        await _health_risk(api, instance_id, name, preview)
    return instance


async def _health_risk(api: Api, instance_id: str, name: str, preview: Preview) -> None:
    """The sending number's health (warm-up, the API's send-rate advice) as a risk line before confirming,
    not only in the API's answer after it: a warming number that sends too much risks being banned."""
    try:
        health = await api.call(HEALTH, path={"id": instance_id})
    except ApiError:  # undocumented route (REFERENCE §19): its absence must not block a send
        return
    state, decision = health.get("state"), health.get("decision")
    if state != "warming" and decision not in ("warn", "block"):
        return
    advice = "; ".join(str(r) for r in [*(health.get("reasons") or []), *(health.get("recommendations") or [])][:3])
    preview.warnings.append(
        f"instance {name} is {state or 'at risk'} (send-rate risk {health.get('riskLevel') or '?'}, decision "
        f"{decision or '?'})" + (f": {advice}" if advice else "")
    )


async def outbound_cost(api: Api, preview: Preview, reach: int) -> dict[str, Any] | None:
    """Monthly outbound quota before and after this send (personal-key route): the plan's informational
    `cost`, never in the digest. Warns when `reach` exceeds what is left."""
    try:
        usage = await api.call(USAGE)
    except WorkspaceError:
        preview.details["quota"] = "not checked (needs the personal key, MSGFLASH_API_KEY)"
        return None
    quota = (usage.get("limits") or {}).get("monthlyOutboundQuota")
    if quota is None:
        preview.details["quota"] = "unlimited"
        return None
    left = int(quota) - int((usage.get("usage") or {}).get("effectiveOutboundUsage") or 0)
    if reach > left:
        preview.warnings.append(
            f"{reach} recipients but only {left} outbound messages left this month: "
            "the rest will fail with MONTHLY_OUTBOUND_QUOTA_EXCEEDED"
        )
    return {"quota_before": left, "quota_after": left - reach, "limit": int(quota)}


async def render_template(
    api: Api,
    template: dict[str, Any],
    preview: Preview,
    *,
    instance_id: str,
    variables: Variables | None,
    contact_id: str | None = None,
    per_recipient: bool = False,
) -> Rendered:
    """Render a template (as read once by the caller) through the API's preview route; its links and
    warnings go in the preview.

    Unfilled custom.* values always warn (the API refuses them). contact.* values are either filled
    from `contact_id` or, for campaigns (`per_recipient`), filled per recipient at send time.
    """
    body: dict[str, Any] = {"instanceId": instance_id}
    if contact_id:
        body["contactId"] = contact_id
    if variables:
        body["variables"] = variables
    rendered = await api.call(TEMPLATE_PREVIEW, path={"id": template["id"]}, json=body)
    text: str | None = rendered.get("rendered")
    add_urls(preview, template.get("mediaUrl"), *urls_in_text(text))
    missing: list[str] = list(rendered.get("missingVariables") or [])
    later = [name for name in missing if per_recipient and name.startswith("contact.")]
    if later:
        preview.details["filled per recipient"] = later
    unfilled = [name for name in missing if name not in later]
    custom = [name.removeprefix("custom.") for name in unfilled if name.startswith("custom.")]
    if custom:
        example = ", ".join(f'"{name}": "..."' for name in custom)
        preview.warnings.append(
            f"template variable(s) {', '.join('custom.' + n for n in custom)} have no value, so the message "
            f"cannot be rendered (TEMPLATE_VARIABLES_MISSING); pass variables={{{example}}}"
        )
    other = [name for name in unfilled if not name.startswith("custom.")]
    if other:
        preview.warnings.append(f"template variable(s) {', '.join(other)} cannot be filled for this recipient")
    return Rendered(
        name=f"{template.get('name')} ({template.get('type')})",
        text=text,
        media=template.get("mediaUrl"),
        variables=tuple(template.get("variables") or ()),
        missing=tuple(missing),
    )


async def describe_content(
    api: Api,
    content: Content,
    preview: Preview,
    *,
    instance_id: str,
    owner: dict[str, Any] | None = None,
    per_recipient: bool = False,
) -> dict[str, Any]:
    """The plan's `what` for `content`, its links added to the preview: a template read once and rendered
    (for `owner`, the recipient's contact record, when it uses contact.* and names no contact), a
    contact card read for its name and number (both decisive: what the recipient gets)."""
    rendered: Rendered | None = None
    card: dict[str, Any] | None = None
    if content.template_id:
        template = await api.call(TEMPLATE, path={"id": content.template_id})
        contact_id = content.contact_id
        uses_contact = any(str(v).startswith("contact.") for v in template.get("variables") or [])
        if contact_id is None and owner and uses_contact:
            contact_id = owner.get("id")
        rendered = await render_template(
            api, template, preview, instance_id=instance_id, variables=content.variables, contact_id=contact_id,
            per_recipient=per_recipient,
        )
    elif content.type == "contact" and content.contact_id:
        record = await api.call(CONTACT, path={"id": content.contact_id})
        card = {"id": content.contact_id, "name": one_line(record.get("name") or "?", 60), "phone": record.get("phone")}
    add_urls(preview, *content.links())
    return content.part(rendered=rendered, card=card)
