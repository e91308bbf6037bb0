"""Instances: the WhatsApp numbers linked to the workspace (read-only through the API)."""

from __future__ import annotations

from ..server.apps.views import INSTANCE_HEALTH
from ..server.call.context import CallContext
from ..server.core.results import Reply
from ..server.registry import GET, Effect, Example, NoArgs, Seed, ToolInput, Toolset
from ._responses import Instances
from ._types import InstanceId

# Routes other modules read too (previews, resources, doctor): named once, here.
INSTANCES = GET("/api/v1/instances")
INSTANCE = GET("/api/v1/instances/{id}")
INSTANCE_STATE = GET("/api/v1/instances/{id}/state")
HEALTH = GET("/api/v1/instances/{id}/health")  # also read by previews (tools/_preview.py)

toolset = Toolset("instances", "Linked WhatsApp numbers and their connection state.")


class InstanceRef(ToolInput):
    instance_id: InstanceId


@toolset.tool(INSTANCES, Effect.READ, output=Instances)
async def list_instances(call: CallContext, args: NoArgs) -> Reply:
    """List linked WhatsApp numbers with their status. Use an instance's id as instance_id elsewhere."""
    data = await call.api()
    connected = sum(1 for i in data if i.get("status") == "connected")
    return Reply(f"{len(data)} instance(s), {connected} connected", data)


@toolset.tool(INSTANCE, Effect.READ, example=Example({"instance_id": Seed("PERSONAL_CONNECTED_INSTANCE_ID")}))
async def get_instance(call: CallContext, args: InstanceRef) -> Reply:
    """One instance by id."""
    data = await call.api(path={"id": args.instance_id})
    return Reply(f"Instance {data.get('name')} is {data.get('status')}", data)


@toolset.tool(
    INSTANCE_STATE, Effect.READ, own_data=True,
    example=Example({"instance_id": Seed("PERSONAL_CONNECTED_INSTANCE_ID")}),
)
async def get_instance_state(call: CallContext, args: InstanceRef) -> Reply:
    """Live connection state of an instance; check before sending."""
    data = await call.api(path={"id": args.instance_id})
    return Reply(f"Instance state: {data.get('status')} (provider {data.get('providerState')})", data)


@toolset.tool(
    HEALTH, Effect.READ, own_data=True, view=INSTANCE_HEALTH,
    example=Example({"instance_id": Seed("PERSONAL_CONNECTED_INSTANCE_ID")}),
)
async def get_instance_health(call: CallContext, args: InstanceRef) -> Reply:
    """Warm-up, send-rate risk and advice for an instance's number."""
    data = await call.api(path={"id": args.instance_id})
    return Reply(f"Health: {data.get('decision')} / risk {data.get('riskLevel')} / {data.get('state')}", data)


