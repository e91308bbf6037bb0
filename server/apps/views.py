"""The MCP Apps views this server ships, and the resources that serve them.

The HTML is built from `apps/` (front-end source, its own toolchain) into single self-contained files
under `static/`, shipped as package data. A view's HTML is read from disk on `resources/read`, never at
import or start-up: cold start stays that of a server without views.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp.server.apps import APP_MIME_TYPE, ResourceCsp
from mcp.server.mcpserver.resources import Resource

if TYPE_CHECKING:
    from ..registry import ToolSpec

REVIEW = "ui://msgflash/review"
CAMPAIGN_STATS = "ui://msgflash/campaign-stats"
USAGE = "ui://msgflash/usage"
INSTANCE_HEALTH = "ui://msgflash/instance-health"

# Older hosts read the view's URI from the flat `_meta["ui/resourceUri"]`, newer ones from `_meta.ui.resourceUri`.
# The ext-apps SDK's server helper writes both: `registerAppTool` in src/server/index.ts of
# modelcontextprotocol/ext-apps (2.0.4, RESOURCE_URI_META_KEY in src/constants.ts) sets the legacy key when
# only `ui.resourceUri` is given, "for compatibility with older hosts", and the reverse. So do we.
LEGACY_URI_KEY = "ui/resourceUri"


def view_meta(uri: str) -> dict[str, Any]:
    """A tool's `_meta` binding it to the view `uri`, under both keys (see LEGACY_URI_KEY)."""
    return {"ui": {"resourceUri": uri}, LEGACY_URI_KEY: uri}



def view_of(spec: ToolSpec) -> str | None:
    """The view a tool's result opens in: the review card for every tool a person may have to confirm
    (guarded tools and the edits whose plan may ask: `takes_token`; on an Apps host no token reaches the
    model first), else the report its declaration names (`view=`: a read with a visual report), else none."""
    return REVIEW if spec.takes_token else spec.view

# The views fetch nothing: no connect, resource, frame or base-uri origins at all (the strictest CSP a host
# can apply). The HTML also carries its own hash-based CSP for hosts that do not apply this one.
NO_NETWORK = ResourceCsp(connect_domains=[], resource_domains=[], frame_domains=[], base_uri_domains=[])


@dataclass(frozen=True)
class View:
    uri: str
    file: str  # in static/
    title: str
    description: str


VIEWS = (
    View(REVIEW, "review.html", "Review before sending",
         "The plan of a guarded action (message, recipients, links, schedule, quota) with Approve and Cancel."),
    View(CAMPAIGN_STATS, "campaign-stats.html", "Campaign funnel",
         "Campaign delivery as a funnel: planned, sent, delivered, read; failed marked."),
    View(USAGE, "usage.html", "Usage", "This month's usage as one gauge per quota, with the 80% warning."),
    View(INSTANCE_HEALTH, "instance-health.html", "Instance health",
         "An instance's sending health (decision, risk, warm-up state, score) and its advice."),
)


def read_view(file: str) -> str:
    from importlib import resources  # here, not at import: nothing of the views costs start-up time

    return resources.files(__name__.rpartition(".")[0]).joinpath("static", file).read_text(encoding="utf-8")


class ViewResource(Resource):
    """A `ui://` view whose HTML is read lazily, on each `resources/read` (the files are small)."""

    file: str

    async def read(self) -> str:
        return read_view(self.file)


def view_resource(view: View) -> ViewResource:
    meta: dict[str, Any] = {"ui": {"csp": NO_NETWORK.model_dump(by_alias=True, exclude_none=True), "prefersBorder": True}}
    return ViewResource(
        uri=view.uri,
        name=view.uri.removeprefix("ui://"),
        title=view.title,
        description=view.description,
        mime_type=APP_MIME_TYPE,
        meta=meta,
        file=view.file,
    )
