"""Messages: send one WhatsApp message now or later, and read the message history.

Also home of the content rules shared with campaigns (message types, buttons, template mode) and of
the preview helpers every sending tool uses (instance state, template rendering, links in text).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, get_args

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from ..server.api import Api
from ..server.call.context import CallContext
from ..server.errors import MsgFlashError, OutcomeUnknown, WorkspaceError
from ..server.guard.plan import Plan, PlannedRequest
from ..server.guard.policy import urls_in_text
from ..server.registry import POST, Effect, ToolInput, Toolset
from ..server.results import Preview, Reply
from ..server.settings import zone_or_none
from ..server.untrusted import quote_untrusted
from ._responses import Message, MessagePage
from ._routes import CONTACTS, MESSAGE, MESSAGES
from ._types import ContactId, Cursor, InstanceId, Limit, MessageId, Phone, TemplateId, Url
from .billing import USAGE
from .contacts import CONTACT
from .inbound import Selection, flagged_line, inbound_risks, select, show, show_one
from .instances import INSTANCE
from .templates import TEMPLATE, TEMPLATE_PREVIEW

toolset = Toolset("messages", "Send WhatsApp messages and read the message history.")



MEDIA_TYPES = ("image", "video", "audio", "voice_note", "document")
CAPTION_TYPES = ("image", "video", "document")
# `received` is the status of inbound messages (REFERENCE §19.1): the API's only way to list what people wrote.
MessageStatus = Literal["scheduled", "queued", "sent", "delivered", "read", "failed", "cancelled", "received"]

OptionalInstance = Annotated[InstanceId | None, Field(description="Only this instance")]
MessageType = Literal["text", "image", "video", "audio", "document", "voice_note", "location", "contact", "buttons"]


# ---------------------------------------------------------------------------------------- buttons


class _Button(BaseModel):
    """One button of a buttons message; each kind is its own model, so its fields are exactly the reference's."""

    model_config = ConfigDict(extra="forbid")

    def to_api(self) -> dict[str, Any]:
        """The API's camelCase object (REFERENCE §19.4), kind first."""
        return {_camel(name): value for name, value in self.model_dump(exclude_none=True).items()}

    def link(self) -> str | None:
        """The web link this button opens, if any (previews list every link a message carries)."""
        return None

    @classmethod
    def kind(cls) -> str:
        """The `type` value that selects this model."""
        return get_args(cls.model_fields["type"].annotation)[0]


class ReplyButton(_Button):
    type: Literal["reply"]
    display_text: str
    id: str

    def label(self) -> str:
        return f"{self.display_text} (reply: {self.id})"


class UrlButton(_Button):
    type: Literal["url"]
    display_text: str
    url: str

    def link(self) -> str | None:
        return self.url

    def label(self) -> str:
        return f"{self.display_text} (url: {self.url})"


class CallButton(_Button):
    type: Literal["call"]
    display_text: str
    phone_number: str

    def label(self) -> str:
        return f"{self.display_text} (call: {self.phone_number})"


class CopyButton(_Button):
    type: Literal["copy"]
    display_text: str
    copy_code: str

    def label(self) -> str:
        return f"{self.display_text} (copy: {self.copy_code})"


class PixButton(_Button):
    """A Brazilian Pix payment button: no display_text, WhatsApp draws its own."""

    type: Literal["pix"]
    currency: str
    name: str
    key_type: str
    key: str

    def label(self) -> str:
        return f"{self.name} (pix: {self.key_type} {self.key}, {self.currency})"


BUTTON_KINDS: tuple[type[_Button], ...] = (ReplyButton, UrlButton, CallButton, CopyButton, PixButton)
Button = Annotated[ReplyButton | UrlButton | CallButton | CopyButton | PixButton, Field(discriminator="type")]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


# ----------------------------------------------------------------------- parameter types (shared)

TypeArg = Annotated[MessageType | None, Field(description="Direct content type; or use template_id")]
TemplateArg = Annotated[TemplateId | None, Field(description="Template to render instead of type")]
TextArg = Annotated[str | None, Field(min_length=1, max_length=4096, description="Text (type=text) or caption")]
MediaArg = Annotated[Url | None, Field(description="Public media URL (media types)")]
LatArg = Annotated[float | None, Field(ge=-90, le=90, description="type=location")]
LonArg = Annotated[float | None, Field(ge=-180, le=180, description="type=location")]
PlaceArg = Annotated[str | None, Field(description="type=location")]  # optional: not in `required`
ContactArg = Annotated[ContactId | None, Field(description="Card to share (type=contact) or template context")]
# Numbers too, as the API and preview_template take them ({"amount": 49.9}); strict, so `true` is refused
# rather than sent as 1. The schema says "string or number" in the fewest tokens.
VariablesArg = Annotated[
    dict[str, str | StrictInt | StrictFloat] | None,
    WithJsonSchema({
        "type": "object",
        "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "number"}]},  # a type list fails strict linters
        "description": "custom.* values by name",
    }),
]
TitleArg = Annotated[str | None, Field(description="type=buttons")]
DescriptionArg = Annotated[str | None, Field(description="Text of type=buttons")]
FooterArg = Annotated[str | None, Field(description="type=buttons")]


def _buttons_schema() -> dict[str, Any]:
    """What the model reads for `buttons`: each kind's fields, derived from the models above.

    The models validate strictly (one per kind, unknown fields refused). A oneOf of the five objects
    would cost ~125 more tokens over the three sending tools, and the catalogue's budget is shared by
    every tool (tests/contract/test_footprint.py); this states the same rule in a sentence.
    """
    kinds = " | ".join(
        f"{model.kind()}: " + ", ".join(name for name in model.model_fields if name != "type") for model in BUTTON_KINDS
    )
    return {
        "type": "array",
        "minItems": 1,
        "maxItems": 2,
        "description": f"type=buttons. Each: {kinds}",
        "items": {"type": "object", "required": ["type"], "additionalProperties": {"type": "string"}},
    }


ButtonsArg = Annotated[list[Button] | None, Field(min_length=1, max_length=2), WithJsonSchema(_buttons_schema())]


# ------------------------------------------------------------------------------- content rules

_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HTTP_URL = re.compile(r"^https?://\S{1,2040}$", re.IGNORECASE)
_PHONE: TypeAdapter[str] = TypeAdapter(Phone)


def _is_phone(value: str) -> bool:
    try:
        _PHONE.validate_python(value)
    except ValidationError:
        return False
    return True


# Which content fields each direct type needs and accepts (REFERENCE §7.1, §8.1, §19.4).
_NEEDS: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    **dict.fromkeys(MEDIA_TYPES, ("media_url",)),
    "location": ("latitude", "longitude"),
    "contact": ("contact_id",),
    "buttons": ("title", "description", "buttons"),
}
_ACCEPTS: dict[str, tuple[str, ...]] = {
    **_NEEDS,
    **dict.fromkeys(CAPTION_TYPES, ("media_url", "text")),
    "location": ("latitude", "longitude", "location_name", "location_address"),
    "buttons": ("title", "description", "footer", "buttons"),
}
_CONTENT = (
    "text",
    "media_url",
    "latitude",
    "longitude",
    "location_name",
    "location_address",
    "contact_id",
    "title",
    "description",
    "footer",
    "buttons",
)


def content_problems(args: dict[str, Any], *, text_name: str = "text", allow_contact_context: bool = True) -> list[str]:
    """What is wrong with a content selection (direct type XOR template), phrased as what to change.

    `args` uses the model-facing names; `text_name` is how the text field is called for this tool
    (campaigns call it `body`). Nothing here makes a request.
    """
    problems: list[str] = []
    given = {name for name in (*_CONTENT, "variables") if args.get(name if name != "text" else text_name) is not None}
    mtype, template_id = args.get("type"), args.get("template_id")

    def shown(name: str) -> str:
        return text_name if name == "text" else name

    if mtype and template_id:
        problems.append("pass either type or template_id, not both")
    elif not mtype and not template_id:
        problems.append("pass type (direct content) or template_id (a saved template)")
    elif template_id:
        allowed = {"variables", "contact_id"} if allow_contact_context else {"variables"}
        extra = sorted(given - allowed, key=_CONTENT.index)
        if extra:
            problems.append(
                f"{', '.join(map(shown, extra))} cannot be combined with template_id (the template supplies the "
                "content); remove them"
            )
    else:
        mtype = str(mtype)
        needed = [name for name in _NEEDS[mtype] if name not in given]
        if needed:
            problems.append(f"type={mtype} needs {' and '.join(map(shown, needed))}")
        extra = sorted(given - set(_ACCEPTS[mtype]) - {"variables"}, key=_CONTENT.index)
        if extra:
            hint = "; put the message text in description" if mtype == "buttons" and "text" in extra else ""
            problems.append(f"{', '.join(map(shown, extra))} not used with type={mtype}; remove them{hint}")
        if "variables" in given:
            problems.append("variables only apply with template_id; remove them or use a template")
    variables = args.get("variables") or {}
    bad = [name for name in variables if not _VAR_NAME.match(name)]
    if bad:
        problems.append(
            f"variables keys are custom.* names without the prefix (letters, digits, _): fix {', '.join(bad[:5])}"
        )
    # Which fields each kind needs is checked by the button models; here only what a schema can't say.
    for i, button in enumerate(args.get("buttons") or []):
        if isinstance(button, UrlButton) and not _HTTP_URL.match(button.url):
            problems.append(f"buttons[{i}].url must be a public http(s) URL")
        if isinstance(button, CallButton) and not _is_phone(button.phone_number):
            problems.append(f"buttons[{i}].phone_number must be E.164, e.g. +33612345678")
    return problems


def refuse(problems: list[str]) -> None:
    """Raise the readable validation error of a call that must not reach the API."""
    if problems:
        raise ToolError("Invalid arguments, nothing was sent: " + "; ".join(problems) + ".")


def content_body(args: dict[str, Any], *, text_key: str = "text") -> dict[str, Any]:
    """The API's camelCase content fields from the model-facing arguments (None dropped)."""
    names = {
        "type": "type",
        "template_id": "templateId",
        "text": text_key,
        "body": text_key,
        "media_url": "mediaUrl",
        "latitude": "latitude",
        "longitude": "longitude",
        "location_name": "locationName",
        "location_address": "locationAddress",
        "contact_id": "contactId",
        "variables": "variables",
        "title": "title",
        "description": "description",
        "footer": "footer",
    }
    out = {api_name: args[name] for name, api_name in names.items() if args.get(name) is not None}
    if args.get("buttons"):
        out["buttons"] = [button.to_api() for button in args["buttons"]]
    return out


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


# ---------------------------------------------------------------------------- preview helpers

def links_in(*texts: str | None) -> list[str]:
    """Every link in free text, with or without a scheme, in order, once (server/guard/policy.py finds them
    as a chat client would make them clickable, so the URL allow-list sees `evil.example/login` too)."""
    return urls_in_text(*texts)


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


def content_part(args: dict[str, Any], preview: Preview, *, text_name: str = "text") -> dict[str, Any]:
    """The plan's `what`: exactly what recipients get (templates: the text as the API rendered it)."""
    mtype = args.get("type")
    text = preview.details.get("text")
    if text is None and mtype:
        text = args.get("description") if mtype == "buttons" else args.get(text_name)
    return {
        "type": mtype or "template",
        "template_id": args.get("template_id"),
        "template": preview.details.get("template"),
        "text": text,
        "title": args.get("title"),
        "footer": args.get("footer"),
        "media": args.get("media_url") or preview.details.get("media"),
        "buttons": [button.to_api() for button in args.get("buttons") or []] or None,
        "variables": args.get("variables"),
    }


async def describe_instance(api: Api, instance_id: str, preview: Preview, *, effect: str) -> dict[str, Any]:
    """Put the sending instance (name, number, state) in the preview; warn when it is not connected."""
    instance = await api.call(INSTANCE, path={"id": instance_id})
    name, status = instance.get("name") or instance_id, instance.get("status") or "unknown"
    preview.details["instance"] = f"{name} ({instance.get('waNumber')}), {status}"
    if status != "connected":
        preview.warnings.append(f"instance {name} is {status}: {effect} until it is reconnected in the dashboard")
    return instance


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


TimezoneArg = Annotated[str | None, Field(description="IANA zone for local time")]


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


async def render_template(
    api: Api,
    template_id: str,
    preview: Preview,
    *,
    instance_id: str,
    variables: dict[str, str | int | float] | None,
    contact_id: str | None = None,
    per_recipient: bool = False,
) -> dict[str, Any]:
    """Render a template through the API's preview route into the preview: text, media link, warnings.

    Unfilled custom.* values always warn (the API refuses them). contact.* values are either filled
    from `contact_id` or, for campaigns (`per_recipient`), filled per recipient at send time.
    """
    template = await api.call(TEMPLATE, path={"id": template_id})
    body: dict[str, Any] = {"instanceId": instance_id}
    if contact_id:
        body["contactId"] = contact_id
    if variables:
        body["variables"] = variables
    rendered = await api.call(TEMPLATE_PREVIEW, path={"id": template_id}, json=body)
    preview.details["template"] = f"{template.get('name')} ({template.get('type')})"
    preview.details["text"] = rendered.get("rendered")
    add_urls(preview, template.get("mediaUrl"))
    add_urls(preview, *links_in(rendered.get("rendered")))
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
    return template


async def _recipient_contact(api: Api, to: str) -> dict[str, Any] | None:
    """The contact record of a number: who the preview names, and what feeds contact.* when a template
    message names no contact."""
    page = await api.call(CONTACTS, query={"search": to, "limit": 10})
    for contact in page.get("contacts") or []:
        if contact.get("phone") == to:
            return contact
    return None


async def _message_preview(api: Api, args: dict[str, Any]) -> tuple[Preview, dict[str, Any]]:
    to: str = args["to"]
    mtype = args.get("type")
    when: datetime | None = args.get("scheduled_at")
    verb = "Schedule" if when else "Send"
    what = f"a {mtype.replace('_', ' ')} message" if mtype else "a template message"
    preview = Preview(action=f"{verb} {what} to {to}", recipients=1, numbers=[to])
    instance = await describe_instance(
        api, args["instance_id"], preview, effect="it will not be delivered" if when is None else "it will fail"
    )
    owner = await _recipient_contact(api, to)
    preview.details["contact"] = quote_untrusted(owner.get("name") or "?", 60) if owner else "no contact has this number"
    if args.get("template_id"):
        contact_id = args.get("contact_id")
        template = await api.call(TEMPLATE, path={"id": args["template_id"]})
        if contact_id is None and owner and any(v.startswith("contact.") for v in template.get("variables") or []):
            contact_id = owner.get("id")
        await render_template(
            api,
            args["template_id"],
            preview,
            instance_id=args["instance_id"],
            variables=args.get("variables"),
            contact_id=contact_id,
        )
        return preview, instance
    preview.details["type"] = mtype
    text = args.get("description") if mtype == "buttons" else args.get("text")
    if text:
        preview.details["text"] = text
    if mtype == "buttons":
        preview.details["title"] = args["title"]
        if args.get("footer"):
            preview.details["footer"] = args["footer"]
        preview.details["buttons"] = [button.label() for button in args["buttons"]]
    if mtype == "location":
        place = ", ".join(p for p in (args.get("location_name"), args.get("location_address")) if p)
        preview.details["location"] = f"{args['latitude']}, {args['longitude']}" + (f" ({place})" if place else "")
    if mtype == "contact":
        card = await api.call(CONTACT, path={"id": args["contact_id"]})
        preview.details["shares contact card"] = f"{card.get('name')} ({card.get('phone')})"
    if args.get("media_url"):
        preview.details["media"] = args["media_url"]
    add_urls(preview, args.get("media_url"))
    add_urls(preview, *(button.link() for button in args.get("buttons") or []))
    add_urls(preview, *links_in(args.get("text"), args.get("title"), args.get("description"), args.get("footer"),
                                args.get("location_name"), args.get("location_address")))
    return preview, instance


def _check_message(args: dict[str, Any], now: datetime) -> None:
    problems = content_problems(args)
    when: datetime | None = args.get("scheduled_at")
    if when is not None and when <= now:
        problems.append(f"scheduled_at {utc_iso(when)} is in the past; give a future time (or use send_message)")
    refuse(problems)


def _message_body(args: dict[str, Any]) -> dict[str, Any]:
    body = {"instanceId": args["instance_id"], "to": args["to"], **content_body(args)}
    if args.get("scheduled_at") is not None:
        body["scheduledAt"] = utc_iso(args["scheduled_at"])
    return body


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
    location_name: PlaceArg = None
    location_address: PlaceArg = None
    contact_id: ContactArg = None
    variables: VariablesArg = None
    title: TitleArg = None
    description: DescriptionArg = None
    footer: FooterArg = None
    buttons: ButtonsArg = None


class ScheduledMessageInput(MessageInput):
    """schedule_message: the same content, plus when."""

    scheduled_at: Annotated[AwareDatetime, Field(description="Future send time, ISO 8601 with offset")]
    timezone: TimezoneArg = None


def _fields(model: BaseModel) -> dict[str, Any]:
    return {name: getattr(model, name) for name in type(model).model_fields}


async def plan_message(call: CallContext, input: MessageInput) -> Plan:
    """The plan of send_message and schedule_message: one request, its recipient, rendered content."""
    args = _fields(input)
    _check_message(args, call.now)
    preview, instance = await _message_preview(call.api, args)
    preview.warnings += await inbound_risks(call, [preview.details.get("text")], preview.urls)
    when: datetime | None = args.get("scheduled_at")
    schedule = when_part(when, args.get("timezone"), call.settings.timezone) if when else None
    if when is not None:
        await _warn_already_scheduled(call.api, args, preview)
    cost = await outbound_cost(call.api, preview, 1)
    return call.plan_from(
        preview,
        json=_message_body(args),
        content=content_part(args, preview),
        instance=instance_part(instance, args["instance_id"]),
        schedule=schedule,
        cost=cost,
    )


SCHEDULED_READ = 100  # one page of scheduled messages is what the duplicate check reads


async def _warn_already_scheduled(api: Api, args: dict[str, Any], preview: Preview) -> None:
    """A risk line when the same text is already scheduled to the same number: one bounded read of
    scheduled messages, so a repeated request is caught before it doubles up. Messages carry no
    templateId (§7.5): a template is compared by its rendered text, which preview.details holds."""
    page = await api.call(MESSAGES, query={"status": "scheduled", "limit": SCHEDULED_READ})
    text = preview.details.get("text")
    for message in page.get("messages") or []:
        if text is not None and message.get("to") == args["to"] and message.get("body") == text:
            preview.warnings.append(
                f"an identical message is already scheduled to {args['to']} for {message.get('scheduledAt')} "
                f"(id {message.get('id')})"
            )
            return


@toolset.tool(POST("/api/v1/messages/send"), Effect.SEND, plan=plan_message, output=Message)
async def send_message(call: CallContext, args: MessageInput) -> Reply:
    """Send one WhatsApp message now: direct content (type + fields) or a template. For many people use create_campaign."""
    message, recovered = await send_once(call, call.request)
    return _sent_reply(message, recovered, call.request.json)


@toolset.tool(
    POST("/api/v1/messages/schedule"), Effect.SEND, plan=plan_message, output=Message
)
async def schedule_message(call: CallContext, args: ScheduledMessageInput) -> Reply:
    """Schedule one WhatsApp message for later; same content fields as send_message."""
    message, recovered = await send_once(call, call.request)
    return _sent_reply(message, recovered, call.request.json)


def _phone_or_contact(value: str) -> str:
    """A sender is a number (E.164) or a contact's id; each keeps its own validation message."""
    value = value.strip()
    return _PHONE.validate_python(value) if value.startswith("+") else _CONTACT_ID.validate_python(value)


_CONTACT_ID: TypeAdapter[str] = TypeAdapter(ContactId)
# One string in the schema (a oneOf of number and id cost ~20 tokens more); validated as either.
SenderArg = Annotated[
    str, AfterValidator(_phone_or_contact), WithJsonSchema({"type": "string", "description": "Phone or contact id"})
]


class ListMessagesInput(ToolInput):
    instance_id: OptionalInstance = None
    status: Annotated[MessageStatus | None, Field(description="Only this status; received = inbound")] = None
    sender: SenderArg | None = None
    since: Annotated[AwareDatetime | None, Field(description="From this time")] = None
    until: Annotated[AwareDatetime | None, Field(description="Before this time")] = None
    unanswered: Annotated[bool | None, Field(description="Inbound not answered since")] = None
    limit: Limit | None = None
    cursor: Cursor | None = None


@toolset.tool(MESSAGES, Effect.READ, output=MessagePage)
async def list_messages(call: CallContext, args: ListMessagesInput) -> Reply:
    """Message history, newest first; inbound with sender names and safety flags. Check here before resending after an unknown outcome."""
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


@toolset.tool(MESSAGE, Effect.READ, output=Message)
async def get_message(call: CallContext, args: MessageRef) -> Reply:
    """One message by id: status, error; inbound: sender name, replyTo, safety flags."""
    data = await call.api(path={"id": args.message_id})
    error = data.get("error")
    reason = f" ({error.get('message') or error.get('code')})" if isinstance(error, dict) else ""
    if data.get("direction") != "inbound":
        return Reply(f"Message {data.get('id')} to {data.get('to')}: {data.get('status')}{reason}", data)
    # An inbound message's `to` is the business's own number: name who wrote it instead.
    view = await show_one(call, data)
    flags = f"; flags: {', '.join(view['flags'])}" if view["flags"] else "; no flags"
    return Reply(f"Message {data.get('id')} from {data.get('from')}: {data.get('status')}{flags}", view)
