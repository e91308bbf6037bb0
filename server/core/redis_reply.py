"""Redis replies as text, in one place: the runtime's client (server/runtime.py) answers bytes, since it is
made without `decode_responses` (the rate limiter and the write locks read numbers and tokens from it too)."""

from __future__ import annotations


def text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def text_or_none(value: object) -> str | None:
    """A GET's reply: None when the key is absent."""
    return None if value is None else text(value)
