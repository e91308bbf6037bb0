"""The input schemas the model reads, lean (bench/footprint.py: the model context is a budget)."""

from __future__ import annotations

from typing import Any

from ..wire import json_list, json_object


def compact_schema(schema: Any) -> Any:
    """What the model reads, lean: the model context is a budget (bench/footprint.py, <= 6,000 tokens).

    Drops pydantic's auto titles, null defaults and `X | None` null branches (optional parameters are
    already marked by their absence from `required`; a top-level anyOf some providers reject), and
    the trivial `minLength: 1` / `minItems: 1` (no model sends an empty name or an empty id list, and
    pydantic still enforces them before anything runs). `type` comes first: the same keywords in
    that order tokenize shorter.
    """
    if (node := json_object(schema)) is not None:
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "title" and isinstance(value, str):
                continue
            if key == "default" and value is None:
                continue
            if key in ("minLength", "minItems") and value == 1:
                continue
            out[key] = compact_schema(value) if key != "properties" else {
                name: compact_schema(prop) for name, prop in (json_object(value) or {}).items()
            }
        any_of = json_list(out.get("anyOf"))
        if any_of is not None:
            branches = [b for b in any_of if b != {"type": "null"}]
            if len(branches) == 1 and len(branches) < len(any_of):
                del out["anyOf"]
                out = {**branches[0], **out}
        if "type" in out:
            out = {"type": out.pop("type"), **out}
        return out
    if (items := json_list(schema)) is not None:
        return [compact_schema(item) for item in items]
    return schema
