"""Decoded JSON from outside (the API, the wire, Redis) read as typed values.

JSON decoders return `Any`; these narrow a value once, where it is read, instead of letting untyped
dicts flow through the code. Anything that is not the expected shape reads as None. The API names its
fields in camelCase and our arguments are snake_case: `camel` and `snake` translate a name either way."""

from __future__ import annotations

from typing import Any, cast


def json_object(value: object) -> dict[str, Any] | None:
    """`value` as a JSON object (string keys, as every JSON decoder makes them), else None."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


def json_list(value: object) -> list[Any] | None:
    """`value` as a JSON array, else None."""
    return cast("list[Any]", value) if isinstance(value, list) else None


def camel(name: str) -> str:
    """`group_id` -> `groupId`: an argument's name as the API spells the field."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def snake(name: str) -> str:
    """`groupId` -> `group_id`: an API field's name as our arguments spell it."""
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name)
