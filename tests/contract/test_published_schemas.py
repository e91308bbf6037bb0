"""server/call/published_schemas.py holds what every registered tool's declaration generates today.

`make schemas` rewrites it (`python -m tests.contract.test_published_schemas`). The file only describes:
the arguments model, built on the first call, is what validates (server/call/published.py).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from msgflash_mcp.server.call import published
from msgflash_mcp.server.call.pipeline import arguments_model, build_tool
from msgflash_mcp.server.registry import ToolInput, ToolSpec, select
from msgflash_mcp.tools import ALL_TOOLSETS
from pydantic import ValidationError

UUID = "3f2b9c1e-8a4d-4e6f-9b7a-1c2d3e4f5a6b"
FILE = Path(published.__file__).with_name("published_schemas.py")


def registered() -> list[ToolSpec]:
    return select(ALL_TOOLSETS, enabled=None, read_only=False)  # every tool; other configurations only remove


def fresh_text() -> str:
    return published.render((spec.name, published.generated(spec, arguments_model(spec))) for spec in registered())


def test_the_published_schemas_are_those_the_declarations_generate() -> None:
    if FILE.read_text(encoding="utf-8") != fresh_text():
        pytest.fail(f"server/call/published_schemas.py is stale: run `{published.FIX}` and commit it")


def test_every_registered_tool_lists_its_published_schemas() -> None:
    for spec in registered():
        tool = build_tool(spec)
        entry = published.PUBLISHED[spec.name]
        assert (tool.parameters, tool.output_schema) == (entry["input"], entry["output"]), spec.name


def _spec(name: str) -> ToolSpec:
    return next(spec for spec in registered() if spec.name == name)


def test_a_declaration_that_changed_shape_is_generated_not_read() -> None:
    class Renamed(ToolInput):
        contact_id: str
        note: str | None = None

    spec = replace(_spec("get_contact"), input=Renamed)  # same tool name, another arguments model
    tool = build_tool(spec)
    assert published.shape(spec) != published.PUBLISHED["get_contact"]["shape"]
    assert set(tool.parameters["properties"]) == {"contact_id", "note", "workspace"}
    assert tool.parameters == published.generated(spec, arguments_model(spec))["input"]


def test_a_wrong_published_schema_never_changes_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    # An entry that fits the declaration's shape but says something else (a stale file): it is what the
    # listing shows, while the arguments model still rejects what the declaration rejects.
    entry: dict[str, Any] = published.PUBLISHED["get_contact"]
    lying = {**entry, "input": {"type": "object", "properties": {}}}
    monkeypatch.setitem(published.PUBLISHED, "get_contact", lying)
    tool = build_tool(replace(_spec("get_contact")))  # a spec made anew is built anew
    assert tool.parameters == {"type": "object", "properties": {}}
    model = tool.fn_metadata.arg_model  # what the SDK validates a call with
    for wrong in ({}, {"contact_id": "not-a-uuid"}, {"contact_id": 7}):
        with pytest.raises(ValidationError):
            model.model_validate(wrong)
    assert model.model_validate({"contact_id": UUID})


if __name__ == "__main__":  # make schemas
    FILE.write_text(fresh_text(), encoding="utf-8")
    print(f"wrote {FILE}")
