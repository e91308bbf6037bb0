"""Templates: reusable message bodies with {{namespace.key}} placeholders (contact, user, instance, custom)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field, StringConstraints

from ..server.api import Api
from ..server.registry import DELETE, GET, POST, PUT, Effect, Toolset
from ..server.results import Preview, Reply
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
    values = {"name": name, "type": type_, "body": body, "mediaUrl": media_url}
    return {key: value for key, value in values.items() if value is not None}


def _label(template: dict[str, Any]) -> str:
    return f"'{template.get('name')}' ({template.get('type')})"


def _variables_line(template: dict[str, Any]) -> str:
    names = template.get("variables") or []
    return f", variables: {', '.join(names)}" if names else ", no variables"


@toolset.tool(TEMPLATES, Effect.READ)
async def list_templates(api: Api, page: Page | None = None, limit: Limit | None = None) -> Reply:
    """List templates, page by page (newest first)."""
    data = await api(query={"page": page, "limit": limit})
    # The response shape is not documented; the sandbox answers {templates, total, page, totalPages}.
    items: list[Any] = data.get("templates", []) if isinstance(data, dict) else list(data or [])
    if isinstance(data, dict) and data.get("totalPages") is not None:
        current, pages = data.get("page") or page or 1, data.get("totalPages") or 0
        more = f", more on page {current + 1}" if current < pages else ""
        return Reply(f"{len(items)} of {data.get('total', len(items))} template(s), page {current}/{pages}{more}", data)
    return Reply(f"{len(items)} template(s)", data)


@toolset.tool(TEMPLATE, Effect.READ)
async def get_template(api: Api, template_id: TemplateId) -> Reply:
    """One template by id, with its body and variables."""
    data = await api(path={"id": template_id})
    return Reply(f"Template {_label(data)}{_variables_line(data)}", data)


@toolset.tool(POST("/api/v1/templates"), Effect.WRITE)
async def create_template(
    api: Api, name: Name, type: TypeArg, body: Body | None = None, media_url: MediaUrl | None = None
) -> Reply:
    """Create a template. Placeholders: {{contact.x}}, {{user.x}}, {{instance.x}}, {{custom.x}}."""
    _content_rules(type, body, media_url, creating=True)
    data = await api(json=_template_body(name, type, body, media_url))
    return Reply(f"Created template {_label(data)}, id {data.get('id')}{_variables_line(data)}", data)


@toolset.tool(PUT("/api/v1/templates/{id}"), Effect.WRITE)
async def update_template(
    api: Api,
    template_id: TemplateId,
    name: Name | None = None,
    type: TypeArg | None = None,
    body: Body | None = None,
    media_url: MediaUrl | None = None,
) -> Reply:
    """Change a template's name, type, body or media_url; omitted fields keep their value."""
    change = _template_body(name, type, body, media_url)
    if not change:
        raise ToolError("nothing to update: give at least one of name, type, body, media_url")
    _content_rules(type, body, media_url, creating=False)
    data = await api(path={"id": template_id}, json=change)
    return Reply(f"Updated template {_label(data)}{_variables_line(data)}", data)


async def preview_delete_template(api: Api, template_id: str) -> Preview:
    template = await api.call(TEMPLATE, path={"id": template_id})
    return Preview(
        action=f"Delete template {_label(template)}",
        details={"template": template.get("name"), "type": template.get("type"), "id": template_id},
    )


@toolset.tool(DELETE("/api/v1/templates/{id}"), Effect.DELETE, preview=preview_delete_template)
async def delete_template(api: Api, template_id: TemplateId) -> Reply:
    """Delete a template for good."""
    data = await api(path={"id": template_id})
    return Reply(f"Deleted template {template_id}", data)


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


@toolset.tool(TEMPLATE_PREVIEW, Effect.READ)
async def preview_template(
    api: Api,
    template_id: TemplateId,
    contact_id: Annotated[ContactId | None, Field(description="Contact id; fills contact.*")] = None,
    instance_id: Annotated[InstanceId | None, Field(description="Instance id; fills instance.*")] = None,
    variables: Variables | None = None,
) -> Reply:
    """Render a template without sending: text, variables and which are still missing."""
    body: dict[str, Any] = {"contactId": contact_id, "instanceId": instance_id}
    if variables:
        body["variables"] = _custom_values(variables)
    data = await api(path={"id": template_id}, json={k: v for k, v in body.items() if v is not None})
    missing: list[str] = data.get("missingVariables") or []
    if missing:
        summary = f"Rendered with {len(missing)} MISSING variable(s): {', '.join(missing)}; supply them before sending"
    else:
        summary = f"Rendered, all {len(data.get('variables') or [])} variable(s) filled"
    return Reply(summary, data)
