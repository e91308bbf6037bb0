"""WhatsApp statuses (stories): publish a text or image status from an instance."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field

from ..server.api import given
from ..server.call.context import CallContext
from ..server.errors import OutcomeUnknown
from ..server.guard.plan import Plan
from ..server.registry import POST, Effect, Example, Seed, ToolInput, Toolset
from ..server.results import Preview, Reply
from .messages import InstanceId, add_urls, describe_instance, instance_part, links_in, outbound_cost, refuse

toolset = Toolset("statuses", "Publish WhatsApp statuses (stories).")

_URL = re.compile(r"^https?://\S+$")


def _check(args: dict[str, Any]) -> None:
    problems: list[str] = []
    if args["type"] == "image":
        if not _URL.match(args["content"]) or len(args["content"]) > 2048:
            problems.append("type=image needs content to be the public http(s) URL of the image")
        if args.get("background_color") is not None:
            problems.append("background_color is only for type=text; remove it")
    elif args.get("caption") is not None:
        problems.append("caption is only for type=image; for text, put everything in content")
    refuse(problems)


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
    args = {name: getattr(input, name) for name in type(input).model_fields}
    _check(args)
    preview = Preview(action=f"Publish a {args['type']} status (story)")
    preview.details["audience"] = "everyone who sees this number's statuses"
    instance = await describe_instance(call.api, args["instance_id"], preview, effect="the status will be refused")
    if args["type"] == "image":
        preview.details["image"] = args["content"]
        add_urls(preview, args["content"])
        if args.get("caption"):
            preview.details["caption"] = args["caption"]
    else:
        preview.details["text"] = args["content"]
        if args.get("background_color"):
            preview.details["background"] = args["background_color"]
    add_urls(preview, *links_in(args["content"] if args["type"] == "text" else None, args.get("caption")))
    cost = await outbound_cost(call.api, preview, 1)  # a status counts as one outbound message
    body = {
        "instanceId": args["instance_id"],
        "type": args["type"],
        "content": args["content"],
        "caption": args.get("caption"),
        "backgroundColor": args.get("background_color"),
    }
    return call.plan_from(
        preview,
        json=given(body),
        selector="everyone who sees this number's statuses",
        content={
            "type": args["type"],
            "text": args["content"] if args["type"] == "text" else args.get("caption"),
            "media": args["content"] if args["type"] == "image" else None,
        },
        instance=instance_part(instance, args["instance_id"]),
        cost=cost,
    )


@toolset.tool(
    POST("/api/v1/statuses"), Effect.SEND, plan=plan_publish_status, broadcast=True,
    example=Example({"instance_id": Seed("PERSONAL_CONNECTED_INSTANCE_ID"), "type": "text", "content": "Ouvert dimanche"}),
)
async def publish_status(call: CallContext, args: StatusInput) -> Reply:
    """Publish a WhatsApp status (story) visible to everyone who sees this number's statuses; uses outbound quota."""
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
