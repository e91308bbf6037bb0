"""Every tool's declared example (server/registry.py `Example`) is a valid call, and the API answers it as
the contract documents: so the example on the declaration is the one place a tool's sample lives, and the
audit, output-schema and endpoint tests all run it instead of keeping a table of their own."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from msgflash_mcp.server.app import build_server

from tests.conftest import call_ok, make_settings
from tests.examples import SPECS, example_args

pytestmark = pytest.mark.anyio

ENDPOINTS: list[dict[str, Any]] = json.loads((Path(__file__).parents[2] / "api-contract/endpoints.json").read_text())
SUCCESS = {(e["method"], re.sub(r"\{\w+\}", "{}", e["path"])): e["success_status"] for e in ENDPOINTS}


def _shape(path: str) -> str:
    return re.sub(r"\{\w+\}", "{}", path)


SHARED = Counter((s.route.method, _shape(s.route.path)) for s in SPECS.values() if s.route)


def _matches(template: str, path: str) -> bool:
    return re.fullmatch(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)), path) is not None


@pytest.mark.parametrize("tool", sorted(SPECS))
async def test_every_tool_answers_its_example(tool: str, still_sandbox_app: Any) -> None:
    """On a sandbox whose clock moves only when told: the example's `first` call (a job, a lookup) is still
    running when the example reads or cancels it."""
    spec = SPECS[tool]
    args = await example_args(tool, still_sandbox_app)
    seen = len(still_sandbox_app.state.sandbox.ledger)
    async with Client(build_server(make_settings(confirm="off"), sandbox_app=still_sandbox_app)) as client:
        out = await call_ok(client, tool, args)
    assert out["status"] == "ok", (
        f"{tool}: its declared example answered {out['status']}; fix `example=` on its declaration in "
        f"tools/{spec.toolset}.py"
    )
    if spec.route is None:
        return
    own = [e for e in list(still_sandbox_app.state.sandbox.ledger)[seen:]
           if e["method"] == spec.route.method and _matches(spec.route.path, e["path"])]
    if not own and SHARED[spec.route.method, _shape(spec.route.path)] > 1:
        return  # list_campaigns reads the local record, and get_campaign's route only for a campaign it has
    assert own, f"{tool}: its example never reached {spec.route}"
    documented = SUCCESS.get((spec.route.method, _shape(spec.route.path)))
    assert own[-1]["status"] == documented, (tool, own[-1])
