"""One module per endpoint group; the only place that knows a route. Order here is the tool list order."""

from __future__ import annotations

from ..server.registry import Toolset
from . import (
    billing,
    contacts,
    groups,
    instances,
    lookups,
    templates,
    workspace,
)

ALL_TOOLSETS: list[Toolset] = [
    workspace.toolset,
    templates.toolset,
    contacts.toolset,
    groups.toolset,
    instances.toolset,
    billing.toolset,
    lookups.toolset,
]
