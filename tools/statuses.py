"""WhatsApp statuses (stories): publish a text or image status from an instance."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field

from ..server.api import Api
from ..server.errors import OutcomeUnknown
from ..server.registry import POST, Effect, Toolset
from ..server.results import Preview, Reply
from .messages import InstanceId, add_urls, describe_instance, links_in, refuse

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


async def preview_publish_status(api: Api, **args: Any) -> Preview:
    _check(args)
    preview = Preview(action=f"Publish a {args['type']} status (story)")
    preview.details["audience"] = "everyone who sees this number's statuses"
    await describe_instance(api, args["instance_id"], preview, effect="the status will be refused")
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
    return preview


@toolset.tool(POST("/api/v1/statuses"), Effect.SEND, preview=preview_publish_status)
async def publish_status(
    api: Api,
    instance_id: InstanceId,
    type: Annotated[Literal["text", "image"], Field(description="text or image")],
    content: Annotated[str, Field(min_length=1, max_length=4096, description="The text, or the image URL")],
    caption: Annotated[str | None, Field(max_length=1024, description="type=image, optional")] = None,
    background_color: Annotated[
        str | None, Field(pattern=r"^#[0-9a-fA-F]{6}$", description="type=text, e.g. #00a884")
    ] = None,
) -> Reply:
    """Publish a WhatsApp status (story) visible to everyone who sees this number's statuses; uses outbound quota."""
    args = dict(locals())
    del args["api"]
    _check(args)
    body = {
        "instanceId": instance_id,
        "type": type,
        "content": content,
        "caption": caption,
        "backgroundColor": background_color,
    }
    try:
        data = await api(json={k: v for k, v in body.items() if v is not None})
    except OutcomeUnknown as exc:
        # The API cannot list statuses, so the generic "read it back" advice does not apply.
        raise OutcomeUnknown(
            str(exc).removeprefix("outcome unknown: "),
            "statuses cannot be listed through the API: ask the user to check the number's status tab in "
            "WhatsApp (and get_instance_state) before publishing again",
        ) from None
    return Reply(f"Status published ({type}), provider id {data.get('providerMessageId')}", data)
