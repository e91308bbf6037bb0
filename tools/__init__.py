"""One module per endpoint group; the only place that knows a route. Order here is the tool list order."""

from __future__ import annotations

from ..server.registry import Toolset
from . import (
    billing,
    campaigns,
    contacts,
    groups,
    instances,
    lookups,
    messages,
    opt_outs,
    statuses,
    templates,
    webhooks,
    workspace,
)

ALL_TOOLSETS: list[Toolset] = [
    workspace.toolset,
    messages.toolset,
    campaigns.toolset,
    templates.toolset,
    contacts.toolset,
    groups.toolset,
    webhooks.toolset,
    statuses.toolset,
    instances.toolset,
    billing.toolset,
    lookups.toolset,
    opt_outs.toolset,
]
