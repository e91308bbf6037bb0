"""The one canonical JSON of the server: what a digest, a keyed hash or a token binding covers.

Sorted keys, no spaces, UTF-8 kept as written, strict JSON (no NaN), and a key whose value is None left
out at every depth: an optional argument left out and one sent as null are one call. Any value converts
(`jsonable`), so a digest never fails on an odd argument.
"""

from __future__ import annotations

import json
from typing import Any, cast

from pydantic_core import to_jsonable_python


def canonical_json(value: Any) -> str:
    return json.dumps(_without_none(jsonable(value)), sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        entries = cast(dict[str, Any], value)  # jsonable's output: string keys
        return {key: _without_none(item) for key, item in entries.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in cast(list[Any], value)]
    return value


def jsonable(value: Any) -> Any:
    """`value` as plain JSON data, whatever it holds: an audit record or a digest must never fail a call.

    Datetimes, Decimals, sets, pydantic models, enums... are converted the way pydantic dumps them;
    bytes as base64 (they need not be UTF-8); NaN/inf as null (strict JSON); anything pydantic does
    not know as its `str`. A dict that still fails (a circular value inside) is converted key by
    key, so one odd argument costs its own detail, not the whole record's structure.
    """
    try:
        return _convert(value)
    except Exception:  # the record is written anyway
        if isinstance(value, dict):
            entries = cast(dict[Any, Any], value)
            return {_text(key): _converted_or_text(item) for key, item in entries.items()}
        return _text(value)


def _convert(value: Any) -> Any:
    return to_jsonable_python(value, fallback=_text, bytes_mode="base64", inf_nan_mode="null")


def _converted_or_text(value: Any) -> Any:
    try:
        return _convert(value)
    except Exception:  # e.g. a circular structure: its text still says what it was
        return _text(value)


def _text(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # a __str__ that raises still gets a record
        return f"<unprintable {type(value).__name__}>"
