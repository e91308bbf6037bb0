"""The example each tool declares (server/registry.py `Example`), made concrete on a sandbox.

`Seed(name)` becomes that id of sandbox/seed.py, `Later(days)` a time that far after the sandbox's now, and
`Made(key)` that field of the data the example's `first` call answered; `first` runs through a server of its
own with confirmations off and no audit log, so the call under test is the only thing a test observes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from mcp import Client
from msgflash_mcp.sandbox import seed
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.registry import Later, Made, Seed, ToolSpec
from msgflash_mcp.tools import ALL_TOOLSETS

from tests.conftest import call_ok, make_settings

SPECS: dict[str, ToolSpec] = {spec.name: spec for toolset in ALL_TOOLSETS for spec in toolset.specs}


def _concrete(value: Any, made: Mapping[str, Any], sandbox_app: Any) -> Any:
    if isinstance(value, Seed):
        return getattr(seed, value.name)
    if isinstance(value, Later):
        when = sandbox_app.state.sandbox.clock.now() + timedelta(days=value.days)
        return when.replace(microsecond=0).isoformat()
    if isinstance(value, Made):
        return made[value.key]
    if isinstance(value, Mapping):
        return {key: _concrete(item, made, sandbox_app) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_concrete(item, made, sandbox_app) for item in value]
    return value


async def example_args(tool: str, sandbox_app: Any) -> dict[str, Any]:
    """The arguments of `tool`'s declared example on `sandbox_app`, after making what they refer to."""
    example = SPECS[tool].example
    made: Mapping[str, Any] = {}
    if example.first is not None:
        first_tool, first_args = example.first
        async with Client(build_server(make_settings(confirm="off"), sandbox_app=sandbox_app)) as client:
            made = (await call_ok(client, first_tool, _concrete(first_args, {}, sandbox_app)))["data"]
    return _concrete(example.args, made, sandbox_app)
