"""Campaigns: one message to many contacts (all, tags, a list, or a group), on a schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
from pydantic import AwareDatetime, Field

from ..server.api import Api
from ..server.call.context import CallContext
from ..server.campaign_record import LIST_LIMIT, LIVE_MAX, CampaignEntry, CampaignRecord, remember_campaign
from ..server.errors import ApiError, MsgFlashError, OutcomeUnknown
from ..server.guard.plan import Plan
from ..server.registry import GET, POST, Effect, ToolInput, Toolset
from ..server.results import Preview, Reply
from ..server.untrusted import one_line, quote_untrusted
from ._recipients import (
    RESOLVED_AT_START,
    Recipients,
    recipients_now,
    resolve_recipients,
    selector_args,
)
from ._responses import CampaignStats
from ._routes import CAMPAIGN
from ._types import CampaignId, ContactId, GroupId
from .inbound import inbound_risks
from .messages import (
    ButtonsArg,
    DescriptionArg,
    FooterArg,
    InstanceId,
    MediaArg,
    TemplateArg,
    TimezoneArg,
    TitleArg,
    VariablesArg,
    add_urls,
    content_body,
    content_part,
    content_problems,
    describe_instance,
    instance_part,
    links_in,
    outbound_cost,
    parse_time,
    refuse,
    render_template,
    utc_iso,
    when_part,
)
from .templates import TEMPLATE_PREVIEW

toolset = Toolset("campaigns", "Scheduled bulk campaigns and their delivery stats.")


CAMPAIGN_STATS = GET("/api/v1/campaigns/{id}/stats")


# Our cap on explicit contact ids in one campaign: §8.1 states none (inferred(explicit-cap)); 10,000 is the
# API's bulk-operation cap (REFERENCE §10.6, §11.3), borrowed so one request stays a size the API takes elsewhere.
MAX_EXPLICIT = 10_000

CampaignType = Literal["text", "image", "video", "audio", "document", "voice_note", "buttons"]


# ---------------------------------------------------------------------------------- create


def _check_create(args: dict[str, Any]) -> None:
    problems = content_problems(args, text_name="body", allow_contact_context=False)
    kind = args["recipients_type"]
    selectors = {"tags": "tags", "explicit": "contact_ids", "group": "group_id"}
    wanted = selectors.get(kind)
    if wanted and not args.get(wanted):
        problems.append(f"recipients_type={kind} needs {wanted}")
    extra = [name for name in selectors.values() if name != wanted and args.get(name) is not None]
    if extra:
        problems.append(f"{', '.join(extra)} not used with recipients_type={kind}; remove them")
    refuse(problems)


def _recipients(args: dict[str, Any]) -> dict[str, Any]:
    kind = args["recipients_type"]
    if kind == "tags":
        return {"type": "tags", "value": list(args["tags"])}
    if kind == "explicit":
        return {"type": "explicit", "value": list(dict.fromkeys(args["contact_ids"]))}
    if kind == "group":
        return {"type": "group", "groupId": args["group_id"]}
    return {"type": "all"}


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
    type: Annotated[CampaignType | None, Field(description="Direct content type; or use template_id")] = None
    body: Annotated[str | None, Field(min_length=1, max_length=4096, description="Text (type=text) or caption")] = None
    media_url: MediaArg = None
    title: TitleArg = None
    description: DescriptionArg = None
    footer: FooterArg = None
    buttons: ButtonsArg = None
    variables: VariablesArg = None


UNFROZEN_TEMPLATE = "the campaign renders its template at send time: later template edits change what is sent"


async def plan_create_campaign(call: CallContext, input: CampaignInput) -> Plan:
    """Recipients resolved exactly (and frozen into explicit ids when a cap or allow-list applies), the
    content rendered, the instance and quota read: the one request create_campaign will send."""
    args = {name: getattr(input, name) for name in type(input).model_fields}
    _check_create(args)
    api, settings = call.api, call.settings
    policed = settings.max_recipients is not None or settings.recipient_allowlist is not None
    what = f"{args['type'].replace('_', ' ')} campaign" if args.get("type") else "template campaign"
    preview = Preview(action=f"Create the {what} {args['name']!r}")
    when = when_part(args["schedule"], args.get("timezone"), settings.timezone, args.get("repeat") or "none")
    who = await resolve_recipients(call, args, need_numbers=policed)
    recipients = _recipients(args)
    selector = who.selector
    if policed and args["recipients_type"] != "explicit":
        if len(who.ids) > MAX_EXPLICIT:
            preview.blocked = f"{len(who.ids)} recipients cannot be frozen into one campaign (at most {MAX_EXPLICIT})"
        # Membership changes after confirmation must not add people: send the resolved ids, not the selector.
        recipients = {"type": "explicit", "value": list(who.ids)}
        selector += f" (frozen to {len(who.ids)} contact ids)"
    elif policed:
        recipients = {"type": "explicit", "value": list(who.ids)}  # unknown ids dropped, as the API would
    preview.recipients = len(who.ids)
    preview.numbers = list(who.numbers)
    preview.details["recipients are"] = selector
    if not who.ids:
        preview.warnings.append("the selection matches no contact: the API will refuse the campaign")
    instance = await describe_instance(api, args["instance_id"], preview, effect="its messages will fail")
    sample_text: dict[str, Any] = {}
    if args.get("template_id"):
        await render_template(
            api, args["template_id"], preview, instance_id=args["instance_id"], variables=args.get("variables"),
            per_recipient=True,
        )
        if who.ids:
            sample_text = await _rendered_sample(api, args, who)
    else:
        preview.details["type"] = args["type"]
        text = args.get("description") if args["type"] == "buttons" else args.get("body")
        if text:
            preview.details["text"] = text
        if args["type"] == "buttons":
            preview.details["title"] = args["title"]
            if args.get("footer"):
                preview.details["footer"] = args["footer"]
            preview.details["buttons"] = [button.label() for button in args["buttons"]]
        if args.get("media_url"):
            preview.details["media"] = args["media_url"]
        add_urls(preview, args.get("media_url"))
        add_urls(preview, *(button.link() for button in args.get("buttons") or []))
        add_urls(preview, *links_in(args.get("body"), args.get("title"), args.get("description"), args.get("footer")))
    preview.warnings += await inbound_risks(call, [preview.details.get("text")], preview.urls)
    cost = await outbound_cost(api, preview, len(who.ids))
    if args.get("repeat") in ("daily", "weekly"):
        preview.details["repeats"] = f"{args['repeat']}: every run messages the recipients again"
    payload: dict[str, Any] = {
        "instanceId": args["instance_id"],
        "name": args["name"],
        "schedule": utc_iso(args["schedule"]),
        "recipients": recipients,
        **content_body(args, text_key="body"),
    }
    if args.get("repeat") is not None:
        payload["repeat"] = args["repeat"]
    return call.plan_from(
        preview,
        json=payload,
        selector=selector,
        contact_ids=who.ids,
        sample=who.sample,
        content=content_part(args, preview, text_name="body"),
        instance=instance_part(instance, args["instance_id"]),
        schedule=when,
        cost=cost,
        shown=sample_text,
        unfrozen=UNFROZEN_TEMPLATE if args.get("template_id") else None,
    )


async def _rendered_sample(api: Api, args: dict[str, Any], who: Recipients) -> dict[str, Any]:
    """The template rendered for the first resolved recipient (the API's preview route with its
    contactId): what one real person would read. Shown only, never in the digest."""
    body: dict[str, Any] = {"instanceId": args["instance_id"], "contactId": who.ids[0]}
    if args.get("variables"):
        body["variables"] = args["variables"]
    try:
        rendered = await api.call(TEMPLATE_PREVIEW, path={"id": args["template_id"]}, json=body)
    except ApiError:  # informational: a recipient deleted meanwhile must not block the preview
        return {}
    name = who.sample[0].get("name") if who.sample else None
    # A name alone, like the names of `who.sample`: the card shows it as a name, not as a quotation.
    return {"sample": rendered.get("rendered"), "sample_for": one_line(name or who.ids[0], 60)}


@toolset.tool(POST("/api/v1/campaigns"), Effect.SEND, plan=plan_create_campaign)
async def create_campaign(call: CallContext, args: CampaignInput) -> Reply:
    """Schedule one message to many contacts (all, tags, listed ids, or a group). For one person use send_message."""
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
    await remember_campaign(call.campaigns, call.workspace_name, data, request.json, call.now.timestamp())
    planned = (data.get("stats") or {}).get("planned")
    # inferred(campaign-resolution-time): zeroed stats at create mean the API resolves them when it starts.
    count = f"{planned} recipient(s)" if planned else f"{call.planned.recipients or 0} {RESOLVED_AT_START}"
    return Reply(
        f"Campaign {data.get('name')!r} {data.get('status')} for {data.get('schedule')} (UTC), "
        f"{count}, id {data.get('id')}{_safety_note(data)}",
        data,
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
    """Campaigns created through THIS server (its local record; the API cannot list campaigns): ids, names, schedules."""
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


@toolset.tool(CAMPAIGN, Effect.READ)
async def get_campaign(call: CallContext, args: CampaignRef) -> Reply:
    """One campaign: content, recipients selector, schedule, status and stats."""
    data = await call.api(path={"id": args.campaign_id})
    return Reply(f"Campaign {data.get('name')!r} is {data.get('status')}: {_stats_line(data.get('stats') or {})}", data)


@toolset.tool(CAMPAIGN_STATS, Effect.READ, output=CampaignStats)
async def get_campaign_stats(call: CallContext, args: CampaignRef) -> Reply:
    """Delivery counters of a campaign (planned, queued, sent, delivered, read, failed, cancelled)."""
    data = await call.api(path={"id": args.campaign_id})
    return Reply(f"Campaign {data.get('status')}: {_stats_line(data.get('stats') or {})}", data)


class PauseInput(ToolInput):
    campaign_id: CampaignId


async def plan_pause_campaign(call: CallContext, input: PauseInput) -> Plan:
    """The POST as it will go out, from the input alone (an unguarded write costs no extra request)."""
    return call.plan_from(Preview(action=f"Pause campaign {input.campaign_id}"), path={"id": input.campaign_id})


@toolset.tool(POST("/api/v1/campaigns/{id}/pause"), Effect.WRITE, plan=plan_pause_campaign)
async def pause_campaign(call: CallContext, args: PauseInput) -> Reply:
    """Pause a scheduled or running campaign; resume_campaign continues it."""
    data = await call.send_plan()
    return Reply(f"Campaign {data.get('name')!r} paused ({_stats_line(data.get('stats') or {})})", data)


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
    if call.settings.recipient_allowlist is not None:
        who = await resolve_recipients(call, selector_args(campaign.get("recipients") or {}), need_numbers=True)
        preview.numbers = list(who.numbers)
        selector = f"{who.selector}: {len(who.ids)} now"
    instance = await describe_instance(api, campaign["instanceId"], preview, effect="its messages will fail")
    text = campaign.get("description") if campaign.get("type") == "buttons" else campaign.get("body")
    if text:
        preview.details["text"] = text
    buttons = [b for b in campaign.get("buttons") or [] if isinstance(b, dict)]
    if campaign.get("type") == "buttons":  # §8.1's own field names: the URL allow-list sees every button link
        preview.details["title"] = campaign.get("title")
        if campaign.get("footer"):
            preview.details["footer"] = campaign["footer"]
        preview.details["buttons"] = [_button_label(b) for b in buttons]
    add_urls(preview, campaign.get("mediaUrl"), *(b.get("url") for b in buttons))
    add_urls(preview, *links_in(campaign.get("body"), campaign.get("title"), campaign.get("description"),
                                campaign.get("footer")))
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
        content={
            "type": campaign.get("type") or "template",
            "template_id": campaign.get("templateId"),
            "text": text,
            "media": campaign.get("mediaUrl"),
            "title": campaign.get("title"),
            "footer": campaign.get("footer"),
            "buttons": buttons or None,
        },
        instance=instance_part(instance, campaign["instanceId"]),
        schedule=when,
        cost=cost,
        unfrozen=unfrozen,
    )


@toolset.tool(POST("/api/v1/campaigns/{id}/resume"), Effect.SEND, plan=plan_resume_campaign)
async def resume_campaign(call: CallContext, args: ResumeInput) -> Reply:
    """Resume a paused campaign: its remaining recipients get the message."""
    data = await call.send_plan()
    return Reply(f"Campaign {data.get('name')!r} is {data.get('status')}{_safety_note(data)}", data)


def _button_label(button: dict[str, Any]) -> str:
    """A stored button in the words create_campaign's preview uses: 'Voir (url: https://…)'."""
    target = next((button[k] for k in ("url", "id", "phoneNumber", "copyCode", "key") if button.get(k)), "")
    return one_line(f"{button.get('displayText') or button.get('name') or '?'} ({button.get('type')}: {target})", 120)
