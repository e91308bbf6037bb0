"""Campaigns: one message to many contacts (all, tags, a list, or a group), on a schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
from pydantic import AwareDatetime, Field

from ..server.api import Api
from ..server.apps.views import CAMPAIGN_STATS as STATS_VIEW
from ..server.call.context import CallContext
from ..server.campaign_record import LIST_LIMIT, LIVE_MAX, CampaignEntry, CampaignRecord, remember_campaign
from ..server.core.errors import ApiError, MsgFlashError, OutcomeUnknown
from ..server.core.results import Preview, Reply
from ..server.guard.plan import Plan
from ..server.registry import GET, POST, Effect, Example, Later, Seed, ToolInput, Toolset, single
from ..server.untrusted import one_line, quote_untrusted
from ._content import (
    ButtonsArg,
    Content,
    DescriptionArg,
    FooterArg,
    MediaArg,
    TemplateArg,
    TitleArg,
    VariablesArg,
    refuse,
    stored_button,
)
from ._preview import (
    TimezoneArg,
    add_urls,
    describe_content,
    describe_instance,
    instance_part,
    outbound_cost,
    parse_time,
    utc_iso,
    when_part,
)
from ._recipients import (
    Recipients,
    frozen,
    recipients_now,
    resolve_recipients,
    selector_args,
)
from ._responses import CampaignStats
from ._routes import CAMPAIGN
from ._types import CampaignId, ContactId, GroupId, InstanceId
from .inbound import inbound_risks
from .opt_outs import opted_out
from .templates import TEMPLATE_PREVIEW

toolset = Toolset("campaigns", "Scheduled bulk campaigns and their delivery stats.")


CAMPAIGN_STATS = GET("/api/v1/campaigns/{id}/stats")


# Our cap on explicit contact ids in one campaign: §8.1 states none (inferred(explicit-cap)); 10,000 is the
# API's bulk-operation cap (REFERENCE §10.6, §11.3), borrowed so one request stays a size the API takes elsewhere.
MAX_EXPLICIT = 10_000

CampaignType = Literal["text", "image", "video", "audio", "document", "voice_note", "buttons"]


# ---------------------------------------------------------------------------------- create


def _recipient_problems(input: CampaignInput) -> list[str]:
    selectors = {"tags": input.tags, "explicit": input.contact_ids, "group": input.group_id}
    names = {"tags": "tags", "explicit": "contact_ids", "group": "group_id"}
    kind = input.recipients_type
    problems: list[str] = []
    if kind in selectors and not selectors[kind]:
        problems.append(f"recipients_type={kind} needs {names[kind]}")
    extra = [names[other] for other, value in selectors.items() if other != kind and value is not None]
    if extra:
        problems.append(f"{', '.join(extra)} not used with recipients_type={kind}; remove them")
    return problems


class CampaignInput(ToolInput):
    """create_campaign's arguments, typed and frozen: what its plan is built from."""

    instance_id: InstanceId
    name: Annotated[str, Field(min_length=1, max_length=200, description="Internal label")]
    schedule: Annotated[AwareDatetime, Field(description="Start time, ISO 8601 with offset")]
    timezone: TimezoneArg = None
    recipients_type: Annotated[
        Literal["all", "tags", "explicit", "group"], Field(description="all | tags | explicit (contact_ids) | group")
    ]
    tags: Annotated[list[str] | None, Field(min_length=1, description="recipients_type=tags: any of")] = None
    contact_ids: Annotated[
        list[ContactId] | None, Field(min_length=1, max_length=MAX_EXPLICIT, description="recipients_type=explicit")
    ] = None
    group_id: Annotated[GroupId | None, Field(description="recipients_type=group")] = None
    repeat: Annotated[Literal["none", "daily", "weekly"] | None, Field(description="Default none")] = None
    template_id: TemplateArg = None
    type: Annotated[CampaignType | None, Field(description="Content type, or use template_id")] = None
    body: Annotated[str | None, Field(min_length=1, max_length=4096, description="Text (type=text) or caption")] = None
    media_url: MediaArg = None
    title: TitleArg = None
    description: DescriptionArg = None
    footer: FooterArg = None
    buttons: ButtonsArg = None
    variables: VariablesArg = None


UNFROZEN_TEMPLATE = "the campaign renders its template at send time: later template edits change what is sent"


async def plan_create_campaign(call: CallContext, input: CampaignInput) -> Plan:
    """Recipients resolved exactly and frozen into explicit ids (docs/frozen-or-guarded.md), the content
    rendered, the instance and quota read: the one request create_campaign will send."""
    content = Content.model_validate(input, from_attributes=True)
    refuse(content.problems(text_name="body", allow_contact_context=False) + _recipient_problems(input))
    api, settings = call.api, call.settings
    what = f"{content.type.replace('_', ' ')} campaign" if content.type else "template campaign"
    preview = Preview(action=f"Create the {what} {input.name!r}")
    repeat = input.repeat or "none"
    when = when_part(input.schedule, input.timezone, settings.timezone, repeat)
    selection = {
        "recipients_type": input.recipients_type,
        "tags": input.tags,
        "contact_ids": input.contact_ids,
        "group_id": input.group_id,
    }
    opted = await opted_out(call)
    who = await resolve_recipients(call, selection, need_numbers=True, leave_out=opted.find)
    recipients, selector = frozen(who, input.recipients_type)
    if who.left_out:  # the frozen ids already leave them out: the API's selectors could not
        selector += f", {len(who.left_out)} opted out left out"
        preview.warnings.append(opted.risk(opted.among(who.left_out)))
    opted.note_incomplete(preview)
    if len(who.ids) > MAX_EXPLICIT:
        preview.blocked = f"{len(who.ids)} recipients cannot be frozen into one campaign (at most {MAX_EXPLICIT})"
    preview.recipients = len(who.ids)
    preview.numbers = list(who.numbers)
    preview.details["recipients are"] = selector
    if not who.ids:
        preview.warnings.append("the selection matches no contact: the API will refuse the campaign")
    instance = await describe_instance(api, input.instance_id, preview, effect="its messages will fail")
    part = await describe_content(api, content, preview, instance_id=input.instance_id, per_recipient=True)
    preview.warnings += await inbound_risks(call, [part.get("text")], preview.urls)
    sample_text: dict[str, Any] = {}
    if content.template_id and who.ids:
        sample_text = await _rendered_sample(api, input, content.template_id, who)
    cost = await outbound_cost(api, preview, len(who.ids))
    if repeat in ("daily", "weekly"):
        preview.details["repeats"] = f"{repeat}: every run messages the recipients again"
    payload: dict[str, Any] = {
        "instanceId": input.instance_id,
        "name": input.name,
        "schedule": utc_iso(input.schedule),
        "recipients": recipients,
        **content.body(text_key="body"),
    }
    if input.repeat is not None:
        payload["repeat"] = input.repeat
    return call.plan_from(
        preview,
        json=payload,
        selector=selector,
        contact_ids=who.ids,
        sample=who.sample,
        content=part,
        instance=instance_part(instance, input.instance_id),
        schedule=when,
        cost=cost,
        shown=sample_text,
        unfrozen=UNFROZEN_TEMPLATE if content.template_id else None,
    )


async def _rendered_sample(api: Api, input: CampaignInput, template_id: str, who: Recipients) -> dict[str, Any]:
    """The template rendered for the first resolved recipient (the API's preview route with its
    contactId): what one real person would read. Shown only, never in the digest."""
    body: dict[str, Any] = {"instanceId": input.instance_id, "contactId": who.ids[0]}
    if input.variables:
        body["variables"] = input.variables
    try:
        rendered = await api.call(TEMPLATE_PREVIEW, path={"id": template_id}, json=body)
    except ApiError:  # informational: a recipient deleted meanwhile must not block the preview
        return {}
    name = who.sample[0].get("name") if who.sample else None
    # A name alone, like the names of `who.sample`: the card shows it as a name, not as a quotation.
    return {"sample": rendered.get("rendered"), "sample_for": one_line(name or who.ids[0], 60)}


@toolset.tool(
    POST("/api/v1/campaigns"), Effect.SEND, plan=plan_create_campaign,
    example=Example({"instance_id": Seed("PERSONAL_CONNECTED_INSTANCE_ID"), "name": "Rentrée", "schedule": Later(days=2),
                     "recipients_type": "all", "type": "text", "body": "Bonjour"}),
)
async def create_campaign(call: CallContext, args: CampaignInput) -> Reply:
    """Schedule one message to many contacts (all, tags, ids or a group). One person: send_message."""
    request = call.request
    try:
        data = await call.send(request)
    except OutcomeUnknown as exc:
        # The API has no campaign listing, so the usual "read it back" advice can't be followed.
        raise OutcomeUnknown(
            str(exc).removeprefix("outcome unknown: "),
            "there is no API to list campaigns: ask the user to check the Campaigns page of the MsgFlash "
            "dashboard for this name before creating it again",
        ) from None
    recorded = await remember_campaign(call.campaigns, call.workspace_name, data, request.json, call.now.timestamp())
    # The confirmed contact ids (explicit recipients): the API's count when it resolved them at create,
    # else (zeroed stats: inferred(campaign-resolution-time)) the plan's.
    planned = (data.get("stats") or {}).get("planned") or call.planned.recipients or 0
    count = f"{planned} recipient(s)"
    return Reply(
        f"Campaign {data.get('name')!r} {data.get('status')} for {data.get('schedule')} (UTC), "
        f"{count}, id {data.get('id')}{_safety_note(data)}" + ("" if recorded else NOT_RECORDED),
        data,
    )


# What create_campaign's outcome adds when its local record entry could not be written (server/campaign_record.py).
NOT_RECORDED = (
    ". Done, but the campaign could not be recorded locally: edits under it (its template, its recipients' "
    "phones and names) are not guarded, and list_campaigns does not show it, until it is recorded (this "
    "server retries on its next use of the record; other server processes do not see it until then)"
)





def _safety_note(data: dict[str, Any]) -> str:
    safety = data.get("safety") or {}
    return f"; safety {safety.get('decision')} ({safety.get('riskLevel')} risk)" if safety else ""


# ------------------------------------------------------------------------------- read / control



async def _live(api: Api, entry: CampaignEntry) -> dict[str, Any]:
    try:
        campaign = await api.call(CAMPAIGN, path={"id": entry.id})
    except ApiError as exc:
        if exc.status == 404:
            return {"status": "not found (deleted since, or the record is stale)"}
        return {"status": f"unknown ({exc.code})"}
    except MsgFlashError as exc:  # one unreadable entry must not hide the others
        return {"status": f"unknown ({type(exc).__name__})"}
    stats = campaign.get("stats") or {}
    return {"status": campaign.get("status"), "planned": stats.get("planned"), "sent": stats.get("sent")}


class ListCampaignsInput(ToolInput):
    limit: Annotated[int, Field(ge=1, le=LIST_LIMIT, description="Newest first")] = 20
    live: Annotated[bool, Field(description=f"Fetch status of the newest {LIVE_MAX}")] = True


@toolset.tool(CAMPAIGN, Effect.READ)
async def list_campaigns(call: CallContext, args: ListCampaignsInput) -> Reply:
    """Campaigns made through THIS server (the API cannot list them): ids, names, schedules."""
    api = call.api
    rows = await recorded_campaigns(call.campaigns, api, args.limit, live=args.live)
    shown = "; ".join(
        f"{quote_untrusted(r['name'], 40)} ({r.get('live', {}).get('status') or 'status not fetched'}, "
        f"starts {r['schedule']})"
        for r in rows[:5]
    )
    more = f" (+{len(rows) - 5} more)" if len(rows) > 5 else ""
    summary = (
        f"{len(rows)} campaign(s) created through this server in {api.label}"
        + (f": {shown}{more}" if rows else "")
        + ". Only campaigns created through this server are listed; the API cannot list others (dashboard)."
    )
    return Reply(summary, {"campaigns": rows, "source": RECORD_SOURCE})


async def recorded_campaigns(
    record: CampaignRecord, api: Api, limit: int = 20, *, live: bool
) -> list[dict[str, Any]]:
    """`record`'s campaigns of `api`'s workspace, newest first; with `live`, the newest LIVE_MAX get their
    current status (one GET each, paced by the shared limiter). list_campaigns and msgflash://campaigns."""
    workspace = api.workspace.name if api.workspace else None
    entries = await record.list(workspace, limit)
    rows = [_record_row(entry) for entry in entries]
    if live and rows:
        fetched: dict[int, dict[str, Any]] = {}

        async def fetch(index: int, entry: CampaignEntry) -> None:
            fetched[index] = await _live(api, entry)

        async with anyio.create_task_group() as group:
            for index, entry in enumerate(entries[:LIVE_MAX]):
                group.start_soon(fetch, index, entry)
        for index, status in fetched.items():
            rows[index]["live"] = status
    return rows


RECORD_SOURCE = "local record of campaigns created through this MCP server; campaigns made elsewhere are not listed"


def _record_row(entry: CampaignEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "name": entry.name,
        "schedule": entry.schedule,
        "repeat": entry.repeat,
        "template_id": entry.template_id,
        "instance_id": entry.instance_id,
        "recipients": dict(entry.recipients),
        "created_at": datetime.fromtimestamp(entry.created_at, UTC).isoformat(timespec="seconds"),
    }



def _stats_line(stats: dict[str, Any]) -> str:
    keys = ("planned", "sent", "delivered", "read", "failed")
    return ", ".join(f"{stats.get(k, 0)} {k}" for k in keys)


class CampaignRef(ToolInput):
    campaign_id: CampaignId


@toolset.tool(CAMPAIGN, Effect.READ, example=Example({"campaign_id": Seed("FINISHED_CAMPAIGN_ID")}))
async def get_campaign(call: CallContext, args: CampaignRef) -> Reply:
    """One campaign: content, recipients selector, schedule, status and stats."""
    data = await call.api(path={"id": args.campaign_id})
    return Reply(f"Campaign {data.get('name')!r} is {data.get('status')}: {_stats_line(data.get('stats') or {})}", data)


@toolset.tool(
    CAMPAIGN_STATS, Effect.READ, output=CampaignStats, view=STATS_VIEW,
    example=Example({"campaign_id": Seed("FINISHED_CAMPAIGN_ID")}),
)
async def get_campaign_stats(call: CallContext, args: CampaignRef) -> Reply:
    """Delivery counters of a campaign (planned, queued, sent, delivered, read, failed, cancelled)."""
    data = await call.api(path={"id": args.campaign_id})
    return Reply(f"Campaign {data.get('status')}: {_stats_line(data.get('stats') or {})}", data)


class PauseInput(ToolInput):
    campaign_id: CampaignId


@toolset.tool(
    POST("/api/v1/campaigns/{id}/pause"), Effect.WRITE,
    plan=single(lambda args: f"Pause campaign {args.campaign_id}"),
    example=Example({"campaign_id": Seed("SCHEDULED_CAMPAIGN_ID")}),
)
async def pause_campaign(call: CallContext, args: PauseInput) -> Reply:
    """Pause a scheduled or running campaign: the only stop, as the API cannot cancel or reschedule one;
    resume_campaign continues it."""
    data = await call.send_plan()
    return Reply(
        f"Campaign {quote_untrusted(data.get('name') or '?', 80)} paused ({_stats_line(data.get('stats') or {})}). "
        f"The API cannot cancel or reschedule a campaign: it stays paused until resume_campaign, which {_resume_would(data)}, "
        "with its original instance and content (asking for confirmation first)",
        data,
    )


def _resume_would(campaign: dict[str, Any]) -> str:
    """What resuming a paused campaign does: back on its schedule when nothing went out yet (the API
    resolves recipients at start), else the recipients still queued."""
    stats = campaign.get("stats") or {}
    started = sum(int(stats.get(key) or 0) for key in ("planned", "queued", "sent", "failed"))
    if not started:
        return (f"would put it back on its schedule ({campaign.get('schedule')} UTC, at once if that has passed) "
                "to message all its recipients")
    queued = stats.get("queued")
    left = queued if isinstance(queued, int) else max(int(stats.get("planned") or 0) - int(stats.get("sent") or 0)
                                                       - int(stats.get("failed") or 0), 0)
    return f"would send the message to the recipients still queued ({left} now)"


class ResumeInput(ToolInput):
    campaign_id: CampaignId





async def plan_resume_campaign(call: CallContext, input: ResumeInput) -> Plan:
    """Who is still to be messaged, with what, from which instance. The API cannot freeze a resumed
    campaign's recipients or template, so the plan says so; a recipient allow-list is checked against
    the campaign's selector resolved now."""
    campaign_id: str = input.campaign_id
    api = call.api
    campaign = await api.call(CAMPAIGN, path={"id": campaign_id})
    stats = campaign.get("stats") or {}
    name = quote_untrusted(campaign.get("name") or "?", 80)
    count = await recipients_now(call, campaign)
    preview = Preview(action=f"Resume campaign {name}", recipients=count["recipients"])
    if count.get("resolved"):
        preview.details["recipients are"] = count["resolved"]
    preview.details["status now"] = campaign.get("status")
    preview.details["already done"] = _stats_line(stats)
    if campaign.get("status") != "paused":
        preview.warnings.append(f"the campaign is {campaign.get('status')}, not paused: the API will refuse to resume")
    selector = "the campaign's remaining recipients"
    opted = await opted_out(call)
    opted.note_incomplete(preview)
    if call.settings.recipient_allowlist is not None or opted.entries:
        who = await resolve_recipients(
            call, selector_args(campaign.get("recipients") or {}), need_numbers=True, leave_out=opted.find
        )
        if who.left_out and count["recipients"]:
            preview.blocked = (
                opted.risk(opted.among(who.left_out), "in its recipients") + ". The API cannot leave them out of a "
                "resumed campaign, so it stays paused: create a new campaign instead (create_campaign leaves them out)"
            )
        if call.settings.recipient_allowlist is not None:
            preview.numbers = list(who.numbers)
        selector = f"{who.selector}: {len(who.ids)} now"
    instance = await describe_instance(api, campaign["instanceId"], preview, effect="its messages will fail")
    part = _stored_content(campaign, preview)
    cost = await outbound_cost(api, preview, count["recipients"])
    starts, repeat = parse_time(campaign.get("schedule")), campaign.get("repeat") or "none"
    when = when_part(starts, None, call.settings.timezone, repeat) if starts else {"utc": campaign.get("schedule"), "repeat": repeat}
    unfrozen = "the API resumes the campaign's own recipient selector; people added to it since creation may be included"
    if campaign.get("templateId"):
        unfrozen += "; " + UNFROZEN_TEMPLATE
    return call.plan_from(
        preview,
        path={"id": campaign_id},
        selector=selector,
        content=part,
        instance=instance_part(instance, campaign["instanceId"]),
        schedule=when,
        cost=cost,
        unfrozen=unfrozen,
    )


@toolset.tool(
    POST("/api/v1/campaigns/{id}/resume"), Effect.SEND, plan=plan_resume_campaign,
    example=Example({"campaign_id": Seed("SCHEDULED_CAMPAIGN_ID")},
                     first=("pause_campaign", {"campaign_id": Seed("SCHEDULED_CAMPAIGN_ID")})),
)
async def resume_campaign(call: CallContext, args: ResumeInput) -> Reply:
    """Resume a paused campaign: its remaining recipients get the message."""
    data = await call.send_plan()
    return Reply(f"Campaign {data.get('name')!r} is {data.get('status')}{_safety_note(data)}", data)


def _stored_content(campaign: dict[str, Any], preview: Preview) -> dict[str, Any]:
    """A stored campaign's content (§8.1's field names) as the plan's `what`, its links in the preview: the
    same words create_campaign's preview used, every button target included. Read from the API, so not
    validated again: shown and digested as stored."""
    content = Content.model_construct(
        type=campaign.get("type"),
        template_id=campaign.get("templateId"),
        text=campaign.get("body"),
        media_url=campaign.get("mediaUrl"),
        title=campaign.get("title"),
        description=campaign.get("description"),
        footer=campaign.get("footer"),
    )
    buttons = [b for b in campaign.get("buttons") or [] if isinstance(b, dict)]
    add_urls(preview, content.media_url, *(str(b["url"]) for b in buttons if b.get("url")), *content.links())
    return {**content.part(), "buttons": [stored_button(b) for b in buttons] or None}
