"""One module per endpoint group; ALL_ROUTES is the full table of the 54 public endpoints."""

from __future__ import annotations

from . import (
    billing,
    bulk_jobs,
    campaigns,
    contacts,
    groups,
    instances,
    lookups,
    messages,
    statuses,
    templates,
    webhooks,
)
from .base import RouteSpec

ALL_ROUTES: list[RouteSpec] = [
    *messages.ROUTES,
    *campaigns.ROUTES,
    *templates.ROUTES,
    *contacts.ROUTES,
    *groups.ROUTES,
    *bulk_jobs.ROUTES,
    *webhooks.ROUTES,
    *statuses.ROUTES,
    *instances.ROUTES,
    *billing.ROUTES,
    *lookups.ROUTES,
]

__all__ = ["ALL_ROUTES", "RouteSpec"]
