"""Resources, prompts and completions (the agent experience around the tools).

Kept apart from the tools so `build_server` stays a wiring function; filled in by the
resources/prompts work.
"""

from __future__ import annotations

from typing import Any

from .runtime import Runtime


def register_extras(server: Any, runtime: Runtime) -> None:
    """Register resources, prompts and completions on the server."""
    return None
