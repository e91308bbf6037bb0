"""Instances: the WhatsApp numbers linked to the workspace (read-only through the API)."""

from __future__ import annotations

from ..server.api import Api
from ..server.registry import GET, Effect, Toolset
from ..server.results import Reply
from ._responses import Instances
from ._types import InstanceId

# Routes other modules read too (previews, resources, doctor): named once, here.
INSTANCES = GET("/api/v1/instances")
INSTANCE = GET("/api/v1/instances/{id}")
INSTANCE_STATE = GET("/api/v1/instances/{id}/state")

toolset = Toolset("instances", "Linked WhatsApp numbers and their connection state.")



@toolset.tool(INSTANCES, Effect.READ, output=Instances)
async def list_instances(api: Api) -> Reply:
    """List linked WhatsApp numbers with their status. Use an instance's id as instance_id elsewhere."""
    data = await api()
    connected = sum(1 for i in data if i.get("status") == "connected")
    return Reply(f"{len(data)} instance(s), {connected} connected", data)


@toolset.tool(INSTANCE, Effect.READ)
async def get_instance(api: Api, instance_id: InstanceId) -> Reply:
    """One instance by id."""
    data = await api(path={"id": instance_id})
    return Reply(f"Instance {data.get('name')} is {data.get('status')}", data)


@toolset.tool(INSTANCE_STATE, Effect.READ, own_data=True)
async def get_instance_state(api: Api, instance_id: InstanceId) -> Reply:
    """Live provider connection state of an instance; check before sending."""
    data = await api(path={"id": instance_id})
    return Reply(f"Instance state: {data.get('status')} (provider {data.get('providerState')})", data)


@toolset.tool(GET("/api/v1/instances/{id}/health"), Effect.READ, own_data=True)
async def get_instance_health(api: Api, instance_id: InstanceId) -> Reply:
    """Sending health (warm-up, risk score, advice) of an instance's number."""
    data = await api(path={"id": instance_id})
    return Reply(f"Health: {data.get('decision')} / risk {data.get('riskLevel')} / {data.get('state')}", data)


