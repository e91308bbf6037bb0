"""MCP Apps: human-facing views of this server (review card, visual reports).

- `views`: the `ui://msgflash/...` views and their lazily read HTML (built from `apps/`, shipped in `static/`);
- `card`: the review card as a confirmation channel (token in `_meta`, form fallback);
- `extension`: the `Apps` extension (views, app-only `app_approve` / `app_cancel`, the card interceptor);
- `visibility`: middleware that shows clients without Apps the plain server, unchanged.
"""

from .extension import MsgflashApps, stamp_views
from .visibility import hide_from_plain_clients

__all__ = ["MsgflashApps", "hide_from_plain_clients", "stamp_views"]
