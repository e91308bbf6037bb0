"""What the API answers, as lenient models: the `data` part of the output schemas tools declare.

They describe, they do not police: every model accepts extra fields (a field the API adds tomorrow
never breaks a call), and every field but the id is optional and nullable, since REFERENCE.md
leaves most shapes vague or inferred. Only the fields a client acts on are named (ids, names,
numbers, statuses, counts, cursors); the rest passes through unnamed, which keeps `tools/list`
small (bench/footprint.py). Results are checked against these schemas by tests/contract.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, RootModel

T = TypeVar("T")


class Lenient(BaseModel):
    # Built when a schema is generated (`make schemas`, tests), not at import: a start-up lists the tools'
    # output schemas from server/call/published_schemas.py and never validates with these models.
    model_config = ConfigDict(extra="allow", defer_build=True)


class LenientList(RootModel[list[T]], Generic[T]):
    """A list of lenient models, deferred like them (a bare `RootModel[list[X]]` is built where it is written)."""

    model_config = ConfigDict(defer_build=True)


class Contact(Lenient):
    id: str
    name: str | None = None
    phone: str | None = None
    tags: list[str] | None = None


class ContactPage(Lenient):
    contacts: list[Contact]
    total: int | None = None
    nextCursor: str | None = None


class Group(Lenient):
    id: str
    name: str | None = None
    contactCount: int | None = None


class GroupPage(Lenient):
    groups: list[Group]
    total: int | None = None
    nextCursor: str | None = None


class MemberPage(Lenient):
    members: list[Contact]
    nextCursor: str | None = None


class Message(Lenient):
    id: str
    direction: str | None = None
    to: str | None = None
    status: str | None = None
    body: str | None = None
    scheduledAt: str | None = None


class MessagePage(Lenient):
    messages: list[Message]
    nextCursor: str | None = None


class Instance(Lenient):
    id: str
    name: str | None = None
    waNumber: str | None = None
    status: str | None = None


Instances = LenientList[Instance]


class Template(Lenient):
    id: str
    name: str | None = None
    type: str | None = None
    body: str | None = None
    variables: list[str] | None = None


class TemplatePage(Lenient):
    templates: list[Template]
    page: int | None = None
    totalPages: int | None = None


class Webhook(Lenient):
    id: str
    url: str | None = None
    events: list[str] | None = None
    active: bool | None = None


Webhooks = LenientList[Webhook]


class BulkJob(Lenient):
    id: str
    status: str | None = None
    progress: float | None = None


class CampaignCounts(Lenient):
    planned: int | None = None
    sent: int | None = None
    delivered: int | None = None
    read: int | None = None
    failed: int | None = None


class CampaignStats(Lenient):
    campaignId: str | None = None
    status: str | None = None
    stats: CampaignCounts | None = None


class Limits(Lenient):
    monthlyOutboundQuota: int | None = None
    monthlyApiRequestQuota: int | None = None
    maxInstances: int | None = None


class UsageCounts(Lenient):
    effectiveOutboundUsage: int | None = None
    apiRequestsCount: int | None = None
    activeInstancesCount: int | None = None


class Usage(Lenient):
    limits: Limits | None = None
    usage: UsageCounts | None = None
