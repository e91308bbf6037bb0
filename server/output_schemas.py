"""The outputSchema a tool declares: the result envelope around the tool's own `data`, or none at all.

One generic envelope schema on every tool cost 58% of `tools/list` and told a client nothing (its
`data` was "any JSON value"). Now a tool names the model of its data (`Toolset.tool(output=...)`,
lenient models in `tools/_responses.py`) and declares the envelope's required fields plus that
data; a tool without a model declares no outputSchema. Its structuredContent is sent either way,
and the text content carries the same JSON.

The schema must accept every result the call path builds for that tool:
- `data` is absent when nothing was done (confirmation_required, declined, dry_run), so only
  `status` and `summary` are required;
- the other envelope fields (workspace, next_cursor, preview, confirm_token, note) are allowed
  without being spelled out: JSON Schema objects accept extra properties unless told otherwise;
- API data is lenient: extra fields pass (a real API addition never breaks a call) and a field
  the reference leaves vague may be null, so `X | None` keeps its null branch here (the input
  schemas' compaction drops null branches; an output schema must not).
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel

from .schema_generator import SchemaGenerator
from .wire import json_list, json_object

_DROPPED = frozenset({"title", "default", "$defs"})


def output_schema_for(model: type[BaseModel] | None) -> dict[str, Any] | None:
    """The tool's outputSchema: envelope + `data` described by `model`; None when it has no model."""
    if model is None:
        return None
    # status and summary are always there and always strings: naming them as required says so,
    # typing them again would cost every tool ~60 bytes of tools/list for nothing.
    return {"type": "object", "properties": {"data": data_schema(model)}, "required": ["status", "summary"]}


@functools.cache  # several tools share a model; generating schemas is most of start-up
def data_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema, lean: references inlined, no titles, no null defaults, no `additionalProperties: true`
    (the default). Nullable fields stay `anyOf [X, null]`: a `type` list is shorter but less portable (the
    MCP Inspector's strict lint flags it; some clients map schemas onto a single-`type` dialect)."""
    schema = model.model_json_schema(schema_generator=SchemaGenerator)
    return _lean(schema, schema.get("$defs", {}))


def _lean(schema: object, defs: dict[str, Any]) -> Any:
    if (items := json_list(schema)) is not None:
        return [_lean(item, defs) for item in items]
    node = json_object(schema)
    if node is None:
        return schema
    ref = node.get("$ref")
    if isinstance(ref, str):
        return _lean(defs[ref.rsplit("/", 1)[-1]], defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED or (key == "additionalProperties" and value is True):
            continue
        if key == "properties":
            out[key] = {name: _lean(prop, defs) for name, prop in (json_object(value) or {}).items()}
        else:
            out[key] = _lean(value, defs)
    return out
