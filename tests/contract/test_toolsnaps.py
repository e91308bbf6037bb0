"""Each tool's schema and annotations are pinned in __toolsnaps__/<tool>.json.

A changed or new tool shows up as a reviewed diff: run with UPDATE_TOOLSNAPS=1 to accept.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from mcp import Client

pytestmark = pytest.mark.anyio

SNAPS = Path(__file__).parent / "__toolsnaps__"


async def test_tool_schemas_match_snapshots(client: Client) -> None:
    tools = (await client.list_tools()).tools
    update = os.environ.get("UPDATE_TOOLSNAPS") == "1"
    SNAPS.mkdir(exist_ok=True)
    problems: list[str] = []
    for tool in tools:
        snap = {
            "name": tool.name,
            "title": tool.title,
            "description": tool.description,
            "inputSchema": tool.input_schema,
            "outputSchema": tool.output_schema,
            "annotations": tool.annotations.model_dump(mode="json", by_alias=True, exclude_none=True)
            if tool.annotations
            else None,
        }
        text = json.dumps(snap, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        path = SNAPS / f"{tool.name}.json"
        if update:
            path.write_text(text)
        elif not path.exists():
            problems.append(f"{tool.name}: no snapshot (run with UPDATE_TOOLSNAPS=1 and review the diff)")
        elif path.read_text() != text:
            problems.append(f"{tool.name}: schema changed (run with UPDATE_TOOLSNAPS=1 and review the diff)")
    stale = {p.stem for p in SNAPS.glob("*.json")} - {t.name for t in tools}
    problems += [f"{name}: snapshot for a tool that no longer exists" for name in sorted(stale)]
    assert not problems, "\n".join(problems)
