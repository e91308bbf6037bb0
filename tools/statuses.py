"""WhatsApp statuses (stories): publish a text or image status from an instance."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field

from ..server.api import given
from ..server.call.context import CallContext
from ..server.core.errors import OutcomeUnknown
from ..server.core.results import Preview, Reply
from ..server.guard.plan import Plan
from ..server.registry import POST, Effect, Example, Seed, ToolInput, Toolset
from ._content import Content, refuse
from ._preview import add_urls, describe_instance, instance_part, outbound_cost
from ._types import InstanceId

toolset = Toolset("statuses", "Publish WhatsApp statuses (stories).")

_URL = re.compile(r"^https?://\S+$")


def _problems(input: StatusInput) -> list[str]:
    problems: list[str] = []
    if input.type == "image":
        if not _URL.match(input.content) or len(input.content) > 2048:
            problems.append("type=image needs content to be the public http(s) URL of the image")
        if input.background_color is not None:
            problems.append("background_color is only for type=text; remove it")
    elif input.caption is not None:
        problems.append("caption is only for type=image; for text, put everything in content")
    return problems


class StatusInput(ToolInput):
    """publish_status's arguments, typed and frozen."""

    instance_id: InstanceId
    type: Annotated[Literal["text", "image"], Field(description="text or image")]
    content: Annotated[str, Field(min_length=1, max_length=4096, description="The text, or the image URL")]
    caption: Annotated[str | None, Field(max_length=1024, description="type=image, optional")] = None
    background_color: Annotated[
        str | None, Field(pattern=r"^#[0-9a-fA-F]{6}$", description="type=text, e.g. #00a884")
    ] = None


async def plan_publish_status(call: CallContext, input: StatusInput) -> Plan:
    """A broadcast: no recipient list exists (the policy refuses it under a recipient allow-list)."""
    refuse(_problems(input))
    # The same content model as a message's: a text status is a text, an image status a captioned image.
    if input.type == "image":
        content = Content(type="image", media_url=input.content, text=input.caption)
    else:
        content = Content(type="text", text=input.content)
    preview = Preview(action=f"Publish a {input.type} status (story)")
    preview.details["audience"] = "everyone who sees this number's statuses"
    if input.background_color:
        preview.details["background"] = input.background_color
    instance = await describe_instance(call.api, input.instance_id, preview, effect="the status will be refused")
    add_urls(preview, *content.links())
    cost = await outbound_cost(call.api, preview, 1)  # a status counts as one outbound message
    body = {
        "instanceId": input.instance_id,
        "type": input.type,
        "content": input.content,
        "caption": input.caption,
        "backgroundColor": input.background_color,
    }
    return call.plan_from(
        preview,
        json=given(body),
        selector="everyone who sees this number's statuses",
        content=content.part(),
        instance=instance_part(instance, input.instance_id),
        cost=cost,
    )


@toolset.tool(
    POST("/api/v1/statuses"), Effect.SEND, plan=plan_publish_status, broadcast=True,
    example=Example({"instance_id": Seed("PERSONAL_CONNECTED_INSTANCE_ID"), "type": "text", "content": "Ouvert dimanche"}),
)
async def publish_status(call: CallContext, args: StatusInput) -> Reply:
    """Publish a WhatsApp status (story) seen by this number's contacts; uses outbound quota."""
    try:
        data = await call.send_plan()
    except OutcomeUnknown as exc:
        # The API cannot list statuses, so the generic "read it back" advice does not apply.
        raise OutcomeUnknown(
            str(exc).removeprefix("outcome unknown: "),
            "statuses cannot be listed through the API: ask the user to check the number's status tab in "
            "WhatsApp (and get_instance_state) before publishing again",
        ) from None
    return Reply(f"Status published ({args.type}), provider id {data.get('providerMessageId')}", data)
