"""Webhooks: where MsgFlash streams events (inbound messages, delivery receipts, instance state)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import AfterValidator, Field, StringConstraints

from ..server.call.context import CallContext
from ..server.core.results import Preview, Reply
from ..server.guard.plan import Plan, PlannedRequest
from ..server.guard.policy import parse_url
from ..server.registry import DELETE, GET, POST, Effect, Example, NoArgs, Seed, ToolInput, Toolset
from ._responses import Webhooks
from ._types import WebhookId

toolset = Toolset("webhooks", "Webhook endpoints that receive MsgFlash events.")


WEBHOOKS = GET("/api/v1/webhooks")

Event = Literal[
    "instance.connected",
    "instance.disconnected",
    "message.sent",
    "message.delivered",
    "message.read",
    "message.failed",
    "message.received",
]


def _unique(events: list[str]) -> list[str]:
    repeated = sorted({e for e in events if events.count(e) > 1})
    if repeated:
        raise ValueError(f"list each event once (repeated: {', '.join(repeated)})")
    return events


HttpsUrl = Annotated[
    str,
    StringConstraints(pattern=r"^https://\S+$", max_length=2048),
    Field(description="HTTPS URL that will receive the events"),
]
Events = Annotated[
    list[Event],
    Field(min_length=1, max_length=50, json_schema_extra={"uniqueItems": True}, description="Events to stream"),
    AfterValidator(_unique),
]


def _host(url: str) -> str:
    """The host a browser would contact (WHATWG parsing: `https://evil.example\\.shop.example` is evil.example)."""
    parsed = parse_url(url)
    return parsed.host if parsed else (urlsplit(url).hostname or "").lower()


@toolset.tool(WEBHOOKS, Effect.READ, output=Webhooks)
async def list_webhooks(call: CallContext, args: NoArgs) -> Reply:
    """List webhook endpoints; secrets are never listed."""
    data = await call.api()
    hosts = sorted({_host(hook.get("url") or "") for hook in data})
    shown = f": {', '.join(hosts)}" if hosts else ""
    return Reply(f"{len(data)} webhook(s){shown}", data)


class WebhookInput(ToolInput):
    url: HttpsUrl
    events: Events


async def plan_create_webhook(call: CallContext, input: WebhookInput) -> Plan:
    """Where events will flow: the exact request, the host as a browser reads it (the URL policy judges it)."""
    url: str = input.url
    events: list[str] = list(input.events)
    host = _host(url)
    existing = [hook for hook in await call.api.call(WEBHOOKS) if hook.get("url") == url]
    same_url = tuple(
        f"webhook {hook.get('id')} already sends {', '.join(hook.get('events') or [])} to this same URL: "
        "a second one delivers every event twice"
        for hook in existing[:1]
    )
    assert call.spec.route is not None
    return Plan(
        tool=call.spec.name,
        action=f"Create a webhook sending events to {host}",
        workspace=call.workspace_name,
        label=call.label,
        requests=(PlannedRequest(call.spec.route, json={"url": url, "events": events}),),
        urls=(url,),
        risk=(
            f"every future {', '.join(events)} event (message contents and numbers included) will be streamed to "
            f"{host}; only confirm if that host belongs to you",
            *same_url,
        ),
        details={"url": url, "host": host, "events": events},
    )


@toolset.tool(
    POST("/api/v1/webhooks"), Effect.ADMIN, plan=plan_create_webhook,
    example=Example({"url": "https://hooks.example.org/msgflash", "events": ["message.sent"]}),
)
async def create_webhook(call: CallContext, args: WebhookInput) -> Reply:
    """Stream events to an HTTPS URL; returns the signing secret once."""
    data = await call.send_plan()
    return Reply(
        f"Webhook {data.get('id')} created for {_host(args.url)}: store the secret now; it is never shown again",
        data,
    )


class WebhookRef(ToolInput):
    """delete_webhook's argument, typed and frozen."""

    webhook_id: WebhookId


async def plan_delete_webhook(call: CallContext, input: WebhookRef) -> Plan:
    """Which endpoint stops receiving what (the API has no single-webhook read: the list, once)."""
    webhook_id: str = input.webhook_id
    hook = next((h for h in await call.api.call(WEBHOOKS) if h.get("id") == webhook_id), None)
    if hook is None:
        raise ToolError(f"no webhook {webhook_id} in this workspace; nothing was deleted. list_webhooks shows the ids")
    url = hook.get("url") or ""
    # The URL stays out of the plan's `urls`: those are judged by the URL policy, and removing an
    # endpoint outside the allow-list must stay possible.
    preview = Preview(
        action=f"Delete the webhook to {_host(url)}",
        details={"url": url, "events": hook.get("events") or [], "active": hook.get("active")},
        warnings=[f"{_host(url)} will stop receiving these events immediately"],
    )
    return call.plan_from(preview, path={"id": webhook_id})


@toolset.tool(
    DELETE("/api/v1/webhooks/{id}"), Effect.DELETE, plan=plan_delete_webhook,
    example=Example({"webhook_id": Seed("DEMO_WEBHOOK_ID")}),
)
async def delete_webhook(call: CallContext, args: WebhookRef) -> Reply:
    """Delete a webhook endpoint; its URL stops receiving events."""
    data: Any = await call.send_plan()
    return Reply(f"Webhook {args.webhook_id} deleted", data)
