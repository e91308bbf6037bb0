"""Messages: send one WhatsApp message now or later, and read the message history.

The content rules live in tools/_content.py and the preview parts every sending tool shares in
tools/_preview.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field, TypeAdapter, WithJsonSchema

from ..server.api import Api
from ..server.call.context import CallContext
from ..server.core.errors import MsgFlashError, OutcomeUnknown
from ..server.core.results import Preview, Reply
from ..server.guard.plan import Plan, PlannedRequest
from ..server.registry import POST, Effect, Example, Later, Seed, ToolInput, Toolset
from ..server.untrusted import quote_untrusted
from ._content import (
    CAPTION_TYPES,
    ButtonsArg,
    ContactArg,
    Content,
    DescriptionArg,
    FooterArg,
    LatArg,
    LonArg,
    MediaArg,
    PlaceAddressArg,
    PlaceNameArg,
    TemplateArg,
    TextArg,
    TitleArg,
    TypeArg,
    VariablesArg,
    refuse,
)
from ._preview import (
    TimezoneArg,
    describe_content,
    describe_instance,
    instance_part,
    outbound_cost,
    parse_time,
    utc_iso,
    when_part,
)
from ._responses import Message, MessagePage
from ._routes import CONTACTS, MESSAGE, MESSAGES
from ._types import ContactId, Cursor, InstanceId, Limit, MessageId, Phone
from .inbound import Selection, flagged_line, inbound_risks, select, show, show_one
from .opt_outs import guard_direct_send

toolset = Toolset("messages", "Send WhatsApp messages and read the message history.")

# Routes used by previews and reconciliation (READ in effect).

# `received` is the status of inbound messages (REFERENCE §19.1): the API's only way to list what people wrote.
MessageStatus = Literal["scheduled", "queued", "sent", "delivered", "read", "failed", "cancelled", "received"]

OptionalInstance = Annotated[InstanceId | None, Field(description="Only this instance")]


async def _recipient_contact(api: Api, to: str) -> dict[str, Any] | None:
    """The contact record of a number: who the preview names, and what feeds contact.* when a template
    message names no contact."""
    page = await api.call(CONTACTS, query={"search": to, "limit": 10})
    for contact in page.get("contacts") or []:
        if contact.get("phone") == to:
            return contact
    return None


# ------------------------------------------------------------------- retry safety for sends


# How far a message's createdAt may sit before our request started (clock skew between us and
# MsgFlash) or after now, and still count as the one our lost request created.
RECONCILE_SKEW = timedelta(minutes=2)


def _expected_text(body: dict[str, Any]) -> str | None:
    mtype = body.get("type")
    if mtype == "buttons":
        return body.get("description")
    if mtype == "text" or mtype in CAPTION_TYPES:
        return body.get("text")
    return None  # location/contact/audio bodies are derived by the API; templates render server-side


def _is_ours(message: dict[str, Any], body: dict[str, Any], started: datetime, now: datetime) -> bool:
    if message.get("to") != body["to"] or message.get("campaignId"):
        return False
    if message.get("direction", "outbound") != "outbound" or message.get("instanceId") not in (
        None,
        body["instanceId"],
    ):
        return False
    created = parse_time(message.get("createdAt"))
    if created is None or not (started - RECONCILE_SKEW <= created <= now + RECONCILE_SKEW):
        return False
    if body.get("type"):
        if message.get("type") != body["type"]:
            return False
        expected = _expected_text(body)
        if (expected is not None or body["type"] in CAPTION_TYPES) and message.get("body") != expected:
            return False
        if body.get("mediaUrl") and message.get("mediaUrl") != body["mediaUrl"]:
            return False
    scheduled = parse_time(body.get("scheduledAt"))
    found_at = parse_time(message.get("scheduledAt"))
    return scheduled is None or found_at is None or found_at == scheduled


async def send_once(call: CallContext, request: PlannedRequest) -> tuple[dict[str, Any], bool]:
    """POST a planned message (send or schedule). If the response is lost, look for the message it may
    have created instead of sending again: returns (message, recovered) or raises OutcomeUnknown.

    The API has no idempotency key, so a blind retry could message a person twice.
    """
    api, body = call.api, request.json
    # The window a lost message's createdAt may fall in: from the call's start (its one clock reading)
    # to the end of the request deadline, widened by clock skew between us and MsgFlash.
    started, now = call.now, call.now + timedelta(seconds=call.settings.call_deadline)
    try:
        return await api.call(request.route, json=body), False
    except OutcomeUnknown as exc:
        what = str(exc).removeprefix("outcome unknown: ")
        check = (
            f"call list_messages with instance_id={body['instanceId']} and look for a message to {body['to']} "
            "before sending again; send again only if it is not there"
        )
        try:
            page = await api.call(MESSAGES, query={"instanceId": body["instanceId"], "limit": 50})
        except MsgFlashError:
            raise OutcomeUnknown(what + "; the message history could not be checked", check) from None
        for message in page.get("messages") or []:  # newest first
            if _is_ours(message, body, started, now):
                return message, True
        raise OutcomeUnknown(what + "; no matching message in the recent history yet", check) from None


def _sent_reply(message: dict[str, Any], recovered: bool, body: dict[str, Any]) -> Reply:
    # The documented answer is {id, status} (§7.1): who and when come from the request we sent.
    to, mid, status = body["to"], message.get("id"), message.get("status")
    if recovered:
        return Reply(
            f"Message to {to} recovered after a lost response: it was sent once, not twice (id {mid}, {status})",
            message,
        )
    if body.get("scheduledAt"):
        return Reply(f"Message to {to} scheduled for {body['scheduledAt']} (UTC), id {mid}", message)
    return Reply(f"Message {status} to {to}, id {mid}", message)


# ------------------------------------------------------------------------------------- tools


class MessageInput(ToolInput):
    """send_message's arguments, typed and frozen: what its plan is built from."""

    instance_id: InstanceId
    to: Phone
    type: TypeArg = None
    template_id: TemplateArg = None
    text: TextArg = None
    media_url: MediaArg = None
    latitude: LatArg = None
    longitude: LonArg = None
    location_name: PlaceNameArg = None
    location_address: PlaceAddressArg = None
    contact_id: ContactArg = None
    variables: VariablesArg = None
    title: TitleArg = None
    description: DescriptionArg = None
    footer: FooterArg = None
    buttons: ButtonsArg = None


class SendInput(MessageInput):
    """send_message: the content, and the override of an opt-out that the preview then names. Only on send
    (the catalogue's token budget): a message to someone who opted out goes now, on their request, or never."""

    override_opt_out: Annotated[bool | None, Field(description="Send despite opt-out")] = None


class ScheduledMessageInput(MessageInput):
    """schedule_message: the same content, plus when."""

    scheduled_at: Annotated[AwareDatetime, Field(description="Future send time, ISO 8601 with offset")]
    timezone: TimezoneArg = None


async def plan_message(call: CallContext, input: MessageInput) -> Plan:
    """The plan of send_message and schedule_message: one request, its recipient, rendered content."""
    content = Content.model_validate(input, from_attributes=True)
    when = input.scheduled_at if isinstance(input, ScheduledMessageInput) else None
    problems = content.problems()
    if when is not None and when <= call.now:
        problems.append(f"scheduled_at {utc_iso(when)} is in the past; give a future time (or use send_message)")
    refuse(problems)
    schedule = None
    if isinstance(input, ScheduledMessageInput):
        schedule = when_part(input.scheduled_at, input.timezone, call.settings.timezone)
    api, to = call.api, input.to
    verb = "Schedule" if when else "Send"
    what = f"a {content.type.replace('_', ' ')} message" if content.type else "a template message"
    preview = Preview(action=f"{verb} {what} to {to}", recipients=1, numbers=[to])
    instance = await describe_instance(
        api, input.instance_id, preview, effect="it will not be delivered" if when is None else "it will fail"
    )
    owner = await _recipient_contact(api, to)
    preview.details["contact"] = quote_untrusted(owner.get("name") or "?", 60) if owner else "no contact has this number"
    part = await describe_content(api, content, preview, instance_id=input.instance_id, owner=owner)
    preview.warnings += await inbound_risks(call, [part.get("text")], preview.urls)
    await guard_direct_send(call, preview, to, isinstance(input, SendInput) and bool(input.override_opt_out))
    body = {"instanceId": input.instance_id, "to": to, **content.body()}
    if when is not None:
        body["scheduledAt"] = utc_iso(when)
        await _warn_already_scheduled(api, to, part.get("text"), preview)
    cost = await outbound_cost(api, preview, 1)
    return call.plan_from(
        preview,
        json=body,
        content=part,
        instance=instance_part(instance, input.instance_id),
        schedule=schedule,
        cost=cost,
    )


SCHEDULED_READ = 100  # one page of scheduled messages is what the duplicate check reads


async def _warn_already_scheduled(api: Api, to: str, text: str | None, preview: Preview) -> None:
    """A risk line when the same text is already scheduled to the same number: one bounded read of
    scheduled messages, so a repeated request is caught before it doubles up. Messages carry no
    templateId (§7.5): a template is compared by its rendered text."""
    page = await api.call(MESSAGES, query={"status": "scheduled", "limit": SCHEDULED_READ})
    for message in page.get("messages") or []:
        if text is not None and message.get("to") == to and message.get("body") == text:
            preview.warnings.append(
                f"an identical message is already scheduled to {to} for {message.get('scheduledAt')} "
                f"(id {message.get('id')})"
            )
            return


@toolset.tool(
    POST("/api/v1/messages/send"), Effect.SEND, plan=plan_message, output=Message,
    example=Example({"instance_id": Seed("PERSONAL_CONNECTED_INSTANCE_ID"), "to": "+33612345000", "type": "text", "text": "Bonjour"}),
)
async def send_message(call: CallContext, args: SendInput) -> Reply:
    """Send one WhatsApp message now: content (type + fields) or a template. Many people: create_campaign."""
    message, recovered = await send_once(call, call.request)
    return _sent_reply(message, recovered, call.request.json)


@toolset.tool(
    POST("/api/v1/messages/schedule"), Effect.SEND, plan=plan_message, output=Message,
    example=Example({"instance_id": Seed("PERSONAL_CONNECTED_INSTANCE_ID"), "to": "+33612345000", "type": "text", "text": "Bonjour",
                     "scheduled_at": Later(days=2)}),
)
async def schedule_message(call: CallContext, args: ScheduledMessageInput) -> Reply:
    """Schedule one WhatsApp message; content as in send_message."""
    message, recovered = await send_once(call, call.request)
    return _sent_reply(message, recovered, call.request.json)


def _phone_or_contact(value: str) -> str:
    """A sender is a number (E.164) or a contact's id; each keeps its own validation message."""
    value = value.strip()
    return _PHONE.validate_python(value) if value.startswith("+") else _CONTACT_ID.validate_python(value)


# Built by their first use (a status's sender), not at start-up.
_PHONE: TypeAdapter[str] = TypeAdapter(Phone, config=ConfigDict(defer_build=True))
_CONTACT_ID: TypeAdapter[str] = TypeAdapter(ContactId, config=ConfigDict(defer_build=True))
# One string in the schema (a oneOf of number and id cost ~20 tokens more); validated as either.
SenderArg = Annotated[
    str, AfterValidator(_phone_or_contact), WithJsonSchema({"type": "string", "description": "Phone or contact id"})
]


class ListMessagesInput(ToolInput):
    instance_id: OptionalInstance = None
    status: Annotated[MessageStatus | None, Field(description="received = inbound")] = None
    sender: SenderArg | None = None
    since: Annotated[AwareDatetime | None, Field(description="From")] = None
    until: Annotated[AwareDatetime | None, Field(description="Before")] = None
    unanswered: Annotated[bool | None, Field(description="Unanswered")] = None
    limit: Limit | None = None
    cursor: Cursor | None = None


@toolset.tool(MESSAGES, Effect.READ, output=MessagePage)
async def list_messages(call: CallContext, args: ListMessagesInput) -> Reply:
    """Message history, newest first; inbound ones with sender, replyTo, flags."""
    if args.sender is None and args.since is None and args.until is None and not args.unanswered:
        query = {"instanceId": args.instance_id, "status": args.status, "limit": args.limit, "cursor": args.cursor}
        data = await call.api(query=query)
        rows: list[dict[str, Any]] = data.get("messages") or []
        answers = {str(m.get("id")): m for m in rows if m.get("direction") != "inbound"}
        shown, _ = await show(call, rows, answers)
        more = " (more available)" if data.get("nextCursor") else ""
        summary = f"{len(shown)} message(s){more}{flagged_line(shown)}"
        return Reply(summary, {**data, "messages": shown}, next_cursor=data.get("nextCursor"))
    sel = Selection(args.instance_id, args.status, args.sender, args.since, args.until, bool(args.unanswered),
                    args.limit or 50, args.cursor)
    scan = await select(call, sel)
    shown, senders = await show(call, scan.messages, scan.outbound)
    inbound = [m for m in shown if m.get("direction") == "inbound"]
    people = len({m["from"] for m in inbound})
    summary = f"{len(shown)} message(s), {len(inbound)} inbound from {people} sender(s), {scan.read} read"
    if scan.full:
        summary += f"; limit reached: pass until={shown[-1].get('createdAt')} for older ones"
    if scan.cursor:
        summary += f"; stopped after {scan.pages} pages (bound): pass cursor for older messages"
    if senders.skipped:
        summary += f"; {senders.skipped} sender(s) not looked up (bound)"
    data = {"messages": shown, "nextCursor": scan.cursor}
    return Reply(summary + flagged_line(shown), data, next_cursor=scan.cursor)


class MessageRef(ToolInput):
    message_id: MessageId


@toolset.tool(
    MESSAGE, Effect.READ, output=Message,
    example=Example({"message_id": Seed("PROMPT_INJECTION_MESSAGE_ID")}),
)
async def get_message(call: CallContext, args: MessageRef) -> Reply:
    """One message by id; inbound: sender, replyTo, flags."""
    data = await call.api(path={"id": args.message_id})
    error = data.get("error")
    reason = f" ({error.get('message') or error.get('code')})" if isinstance(error, dict) else ""
    if data.get("direction") != "inbound":
        return Reply(f"Message {data.get('id')} to {data.get('to')}: {data.get('status')}{reason}", data)
    # An inbound message's `to` is the business's own number: name who wrote it instead.
    view = await show_one(call, data)
    flags = f"; flags: {', '.join(view['flags'])}" if view["flags"] else "; no flags"
    return Reply(f"Message {data.get('id')} from {data.get('from')}: {data.get('status')}{flags}", view)
