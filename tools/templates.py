"""Templates: reusable message bodies with {{namespace.key}} placeholders (contact, user, instance, custom)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field, StringConstraints

from ..server.api import given
from ..server.call.context import CallContext
from ..server.core.results import Preview, Reply
from ..server.guard.plan import Plan
from ..server.guard.policy import urls_in_text
from ..server.registry import DELETE, GET, POST, PUT, Effect, Example, Made, Seed, ToolInput, Toolset
from ..server.untrusted import one_line, quote_untrusted
from ._impact import campaigns_line, pending_campaigns
from ._responses import Template, TemplatePage
from ._types import ContactId, InstanceId, Limit, Page, TemplateId, Url

toolset = Toolset("templates", "Message templates with placeholders.")

TemplateType = Literal["text", "image", "video", "audio", "document"]
# Limits match the sandbox (the reference documents none): name 1-200, body up to 4096 characters.
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Field(description="Template name")
]
Body = Annotated[
    str,
    StringConstraints(min_length=1, max_length=4096),
    Field(description="Text; placeholders like {{contact.firstName}}"),
]
TypeArg = Annotated[TemplateType, Field(description="text needs body; media types need media_url")]
MediaUrl = Annotated[Url, Field(description="Public http(s) media URL (media types)")]
Variables = Annotated[
    dict[str, str | int | float],
    Field(description='custom.* values, e.g. {"code": "PROMO10"}', max_length=100),
]

# Fields the API fills per namespace. REFERENCE §9 shows contact.firstName and instance.name and says the full list
# is undocumented; the rest is what the sandbox resolves (tests/tools/test_templates.py keeps both in step).
# contact.* also reads each contact's own custom fields by name; custom.* takes any key, valued at send time.
PLACEHOLDER_FIELDS: dict[str, tuple[str, ...]] = {
    "contact": ("firstName", "lastName", "fullName", "name", "phone"),
    "user": ("firstName", "lastName", "fullName", "email"),
    "instance": ("name", "waNumber"),
}
PLACEHOLDER_GUIDE = (
    ", ".join(f"{{{{{namespace}.{'|'.join(fields)}}}}}" for namespace, fields in PLACEHOLDER_FIELDS.items())
    + ", {{custom.<key>}}"
)
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)
_PLACEHOLDER_NAME = re.compile(r"^([A-Za-z_]+)\.([A-Za-z_][A-Za-z0-9_]*)$")


def _squash(name: str) -> str:
    """Compare names the way a person misremembers them: case, '_', '-' and spaces do not count."""
    return re.sub(r"[\s_-]", "", name).lower()


def _real_field(namespace: str, field: str) -> str | None:
    """The API field a placeholder most likely meant, only when it is that same field misspelt: a near miss
    in its own namespace (contact.first_name), or the exact field name under a wrong or missing namespace
    ({{firstName}}, {{customer.fullName}}). Never a different field: {{order.number}} is not the
    instance's phone number."""
    if namespace in PLACEHOLDER_FIELDS:
        import difflib  # here, not at import: only a misspelt placeholder needs it, and start-up is a budget

        near = {_squash(known): known for known in PLACEHOLDER_FIELDS[namespace]}
        match = difflib.get_close_matches(_squash(field), list(near), n=1, cutoff=0.75)
        return f"{namespace}.{near[match[0]]}" if match else None
    for space, fields in PLACEHOLDER_FIELDS.items():  # contact first
        for known in fields:
            if _squash(known) == _squash(field):
                return f"{space}.{known}"
    return None


def _custom_key(namespace: str, field: str) -> str:
    """The custom.* key for a value the sender supplies: 'order.number' → 'order_number'."""
    words = field if namespace in ("custom", *PLACEHOLDER_FIELDS) or not namespace else f"{namespace}_{field}"
    key = re.sub(r"\W+", "_", words).strip("_") or "value"
    return key if re.match(r"[A-Za-z_]", key) else f"v_{key}"


def _placeholder_fix(raw: str) -> str:
    """How to write one placeholder the API does not fill: the same field spelt right, else a custom.*
    value and the `variables` entry every send and campaign must then carry."""
    namespace, _, field = raw.rpartition(".")
    real = None if namespace == "custom" else _real_field(namespace, field)
    key = _custom_key(namespace, field)
    custom = f'{{{{custom.{key}}}}} and pass variables={{"{key}": "..."}} on each send or campaign'
    if real and namespace in PLACEHOLDER_FIELDS:
        return f"{{{{{raw[:60]}}}}}: use {{{{{real}}}}}"
    if real:
        return f"{{{{{raw[:60]}}}}}: use {{{{{real}}}}}, or for a value you supply use {custom}"
    return f"{{{{{raw[:60]}}}}}: for a value you supply use {custom}"


def check_placeholders(body: str) -> list[str]:
    """Refuse placeholders the API would reject or leave unfilled (its sends would fail), all of them in one
    error; notes for the rest.

    A contact.* name that is no standard field may be a contact's custom field, so it passes with a note,
    unless it is a near miss of a standard one (contact.first_name), which is a typo.
    """
    notes: list[str] = []
    fixes: list[str] = []
    for match in _PLACEHOLDER.finditer(body):
        raw = match.group(1).strip()
        parsed = _PLACEHOLDER_NAME.match(raw)
        namespace, field = parsed.groups() if parsed else ("", raw)
        if parsed and (namespace == "custom" or field in PLACEHOLDER_FIELDS.get(namespace, ())):
            continue
        if parsed and namespace == "contact" and _real_field(namespace, field) is None:
            notes.append(f"{{{{{raw}}}}} is filled from each contact's custom field '{field}' (check with preview_template)")
            continue
        fix = _placeholder_fix(raw)
        if fix not in fixes:
            fixes.append(fix)
    if fixes:
        raise ToolError(
            f"{len(fixes)} body placeholder(s) the API does not fill, so sends with them would fail: "
            f"{'; '.join(fixes)}. Placeholders: {PLACEHOLDER_GUIDE}"
        )
    return notes


def custom_variables(template: dict[str, Any]) -> list[str]:
    """The custom.* keys a template needs from every send and campaign (the API's `variables`, else its body)."""
    names = template.get("variables")
    if not isinstance(names, list):
        names = [m.group(1).strip() for m in _PLACEHOLDER.finditer(str(template.get("body") or ""))]
    return list(dict.fromkeys(str(n).removeprefix("custom.") for n in names if str(n).startswith("custom.")))


def _needs_line(template: dict[str, Any]) -> str:
    keys = custom_variables(template)
    if not keys:
        return ""
    example = ", ".join(f'"{key}": "..."' for key in keys)
    return f"; every send and campaign with it must pass variables={{{example}}}"


def _with_notes(summary: str, notes: list[str]) -> str:
    return summary + "".join(f"; note: {note}" for note in notes)


def _document_placeholders(fn: Any) -> Any:
    """The tool description lists the placeholder fields from PLACEHOLDER_FIELDS (one place for the fact)."""
    fn.__doc__ = (fn.__doc__ or "").replace("{placeholders}", PLACEHOLDER_GUIDE)
    return fn


TEMPLATES = GET("/api/v1/templates")
TEMPLATE = GET("/api/v1/templates/{id}")
TEMPLATE_PREVIEW = POST("/api/v1/templates/{id}/preview")


def _content_rules(type_: str | None, body: str | None, media_url: str | None, *, creating: bool) -> None:
    """Type-dependent fields, checked before any request (the reference: body for text, mediaUrl for media)."""
    if type_ == "text":
        if creating and not body:
            raise ToolError("type 'text' needs `body`: add the message text (placeholders allowed)")
        if media_url:
            raise ToolError(
                "`media_url` is only for media types (image, video, audio, document); drop it or change `type`"
            )
    elif type_ is not None and creating and not media_url:
        raise ToolError(f"type '{type_}' needs `media_url`: a public http(s) link to the {type_}")


def _template_body(name: str | None, type_: str | None, body: str | None, media_url: str | None) -> dict[str, Any]:
    return given({"name": name, "type": type_, "body": body, "mediaUrl": media_url})


def _label(template: dict[str, Any]) -> str:
    return f"{quote_untrusted(template.get('name') or '?', 60)} ({template.get('type')})"


def _variables_line(template: dict[str, Any]) -> str:
    names = template.get("variables") or []
    return f", variables: {', '.join(names)}" if names else ", no variables"


class ListTemplatesInput(ToolInput):
    page: Page | None = None
    limit: Limit | None = None


@toolset.tool(TEMPLATES, Effect.READ, output=TemplatePage)
async def list_templates(call: CallContext, args: ListTemplatesInput) -> Reply:
    """List templates, page by page (newest first)."""
    page = args.page
    data = await call.api(query={"page": page, "limit": args.limit})
    # The response shape is not documented; the sandbox answers {templates, total, page, totalPages}.
    items: list[Any] = data.get("templates", []) if isinstance(data, dict) else list(data or [])
    if isinstance(data, dict) and data.get("totalPages") is not None:
        current, pages = data.get("page") or page or 1, data.get("totalPages") or 0
        more = f", more on page {current + 1}" if current < pages else ""
        return Reply(f"{len(items)} of {data.get('total', len(items))} template(s), page {current}/{pages}{more}", data)
    return Reply(f"{len(items)} template(s)", data)


class TemplateRef(ToolInput):
    template_id: TemplateId


@toolset.tool(TEMPLATE, Effect.READ, output=Template, example=Example({"template_id": Seed("WELCOME_TEMPLATE_ID")}))
async def get_template(call: CallContext, args: TemplateRef) -> Reply:
    """One template by id, with its body and variables."""
    data = await call.api(path={"id": args.template_id})
    return Reply(f"Template {_label(data)}{_variables_line(data)}", data)


# ---------------------------------------------------------------------------------- write tools
# Each turns its typed, frozen input into a plan holding the exact request; the body sends that plan.
# The content rules and placeholder checks run in the planner, so a refusal sends nothing. Their notes
# ride in `details[NOTES]` (shown only) to the summary.

NOTES = "placeholder notes"


def _notes(plan: Plan) -> list[str]:
    return list(plan.details.get(NOTES) or [])


def _checked_content(type_: str | None, body: str | None, media_url: str | None, *, creating: bool) -> dict[str, Any]:
    """The preview details of content that passed the rules: the placeholder notes, if any."""
    _content_rules(type_, body, media_url, creating=creating)
    notes = check_placeholders(body or "")
    return {NOTES: notes} if notes else {}


def _content_urls(body: str | None, media_url: str | None) -> list[str]:
    """Every link a template will send (media and links in its body, scheme or not): the URL allow-list
    judges them when the template is written, since campaigns render it later, at send time."""
    return list(dict.fromkeys([*([media_url] if media_url else []), *urls_in_text(body)]))


class CreateTemplateInput(ToolInput):
    """create_template's arguments, typed and frozen."""

    name: Name
    type: TypeArg
    body: Body | None = None
    media_url: MediaUrl | None = None


async def plan_create_template(call: CallContext, input: CreateTemplateInput) -> Plan:
    """The POST as it will go out, from the input alone (an unguarded write costs no extra request)."""
    details = _checked_content(input.type, input.body, input.media_url, creating=True)
    preview = Preview(action=f"Create the {input.type} template {quote_untrusted(input.name, 60)}", details=details,
                      urls=_content_urls(input.body, input.media_url))
    return call.plan_from(preview, json=_template_body(input.name, input.type, input.body, input.media_url))


@toolset.tool(
    POST("/api/v1/templates"), Effect.WRITE, plan=plan_create_template,
    example=Example({"name": "Relance", "type": "text", "body": "Hello {{contact.name}}"}),
)
@_document_placeholders
async def create_template(call: CallContext, args: CreateTemplateInput) -> Reply:
    """Create a template. Placeholders: {placeholders}."""
    data = await call.send_plan()
    summary = f"Created template {_label(data)}, id {data.get('id')}{_variables_line(data)}{_needs_line(data)}"
    return Reply(_with_notes(summary, _notes(call.planned)), {**data, "custom_variables": custom_variables(data)})


class UpdateTemplateInput(ToolInput):
    """update_template's arguments, typed and frozen."""

    template_id: TemplateId
    name: Name | None = None
    type: TypeArg | None = None
    body: Body | None = None
    media_url: MediaUrl | None = None


async def plan_update_template(call: CallContext, input: UpdateTemplateInput) -> Plan:
    """The PUT of the given fields only. A content edit (type, body, media) of a template that pending
    campaigns render at send time is confirmed, naming those campaigns; other edits go through unasked
    (no request here unless the record has campaigns)."""
    change = _template_body(input.name, input.type, input.body, input.media_url)
    if not change:
        raise ToolError("nothing to update: give at least one of name, type, body, media_url")
    details = _checked_content(input.type, input.body, input.media_url, creating=False)
    preview = Preview(action=f"Update template {input.template_id} ({', '.join(change)})",
                      details={"id": input.template_id, "fields": list(change), **details},
                      urls=_content_urls(input.body, input.media_url))
    if {"type", "body", "mediaUrl"} & set(change):
        await _campaign_impact(call, input.template_id, preview, "would send the edited content")
        if "campaigns" in preview.details:
            preview.confirm_reason = "the edit changes what pending campaigns send"
    return call.plan_from(preview, path={"id": input.template_id}, json=change)


@toolset.tool(
    PUT("/api/v1/templates/{id}"), Effect.WRITE, plan=plan_update_template, confirmable=True,
    example=Example({"template_id": Seed("WELCOME_TEMPLATE_ID"), "name": "Welcome 2"}),
)
async def update_template(call: CallContext, args: UpdateTemplateInput) -> Reply:
    """Change a template's name, type, body or media_url; omitted fields unchanged. Placeholders: create_template."""
    data = await call.send_plan()
    summary = f"Updated template {_label(data)}{_variables_line(data)}{_needs_line(data)}"
    return Reply(_with_notes(summary, _notes(call.planned)), {**data, "custom_variables": custom_variables(data)})


async def plan_delete_template(call: CallContext, input: TemplateRef) -> Plan:
    """What goes away (read once) and which pending campaigns use it: the API then refuses the delete."""
    template = await call.api.call(TEMPLATE, path={"id": input.template_id})
    preview = Preview(
        action=f"Delete template {_label(template)}",
        details={
            "template": one_line(template.get("name") or "", 80), "type": template.get("type"), "id": input.template_id
        },
    )
    # inferred(template-in-use): the API refuses (409 CONFLICT) to delete a template pending campaigns use.
    await _campaign_impact(call, input.template_id, preview,
                           "the API refuses the delete (409 CONFLICT) while they are scheduled, running or paused")
    return call.plan_from(preview, path={"id": input.template_id})


async def _campaign_impact(call: CallContext, template_id: str, preview: Preview, effect: str) -> None:
    """Name the still-pending campaigns (this server's record) that render this template at send time."""
    pending = await pending_campaigns(call, template_id=template_id)
    if pending:
        preview.details["campaigns"] = pending
        preview.affects = [str(campaign["id"]) for campaign in pending]
        preview.warnings.append(f"{len(pending)} pending campaign(s) use this template and {effect}: "
                                + campaigns_line(pending))


@toolset.tool(
    DELETE("/api/v1/templates/{id}"), Effect.DELETE, plan=plan_delete_template,
    example=Example({"template_id": Made("id")},
                     first=("create_template", {"name": "Old", "type": "text", "body": "Hello"})),
)
async def delete_template(call: CallContext, args: TemplateRef) -> Reply:
    """Delete a template for good."""
    data = await call.send_plan()
    return Reply(f"Deleted template {args.template_id}", data)


_VARIABLE = re.compile(r"^(?:custom\.)?([A-Za-z_][A-Za-z0-9_]{0,63})$")


def _custom_values(variables: dict[str, str | int | float]) -> dict[str, str | int | float]:
    """The API wants bare custom.* keys ("code"); accept "custom.code" too, refuse anything else."""
    values: dict[str, str | int | float] = {}
    for key, value in variables.items():
        match = _VARIABLE.match(key)
        if match is None:
            raise ToolError(
                f"variables key {key[:40]!r} is not a custom.* name: use identifiers like 'code' "
                "(contact.*, user.* and instance.* come from contact_id / instance_id)"
            )
        values[match.group(1)] = value
    return values


class PreviewTemplateInput(ToolInput):
    template_id: TemplateId
    contact_id: Annotated[ContactId | None, Field(description="Contact id; fills contact.*")] = None
    instance_id: Annotated[InstanceId | None, Field(description="Instance id; fills instance.*")] = None
    variables: Variables | None = None


@toolset.tool(
    TEMPLATE_PREVIEW, Effect.READ,
    example=Example({"template_id": Seed("WELCOME_TEMPLATE_ID"), "contact_id": Seed("AWA_CONTACT_ID")}),
)
async def preview_template(call: CallContext, args: PreviewTemplateInput) -> Reply:
    """Render a template without sending: text, variables and which are still missing."""
    body: dict[str, Any] = {"contactId": args.contact_id, "instanceId": args.instance_id}
    if args.variables:
        body["variables"] = _custom_values(args.variables)
    data = await call.api(path={"id": args.template_id}, json=given(body))
    missing: list[str] = data.get("missingVariables") or []
    if missing:
        summary = f"Rendered with {len(missing)} MISSING variable(s): {', '.join(missing)}; supply them before sending"
    else:
        summary = f"Rendered, all {len(data.get('variables') or [])} variable(s) filled"
    return Reply(summary, data)
