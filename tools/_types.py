"""Typed inputs shared by the tool groups: ids, E.164 numbers, pagination.

Validated at the edge, before any request: a model that sends a bad value gets a readable error
naming the field, and nothing reaches the API.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import phonenumbers
from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema


def _uuid(value: uuid.UUID) -> str:
    return str(value)


def Id(what: str) -> Any:
    """A UUID id, described for the model; kept as its canonical string."""
    return Annotated[uuid.UUID, AfterValidator(_uuid), Field(description=f"{what} id")]


def _e164(value: str) -> str:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValueError("must be an international number in E.164 form, e.g. +33612345678") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number; use E.164, e.g. +33612345678")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Validation below is strict; the JSON schema the model reads states the rule in fewer tokens
# (WithJsonSchema), because 56 tools share one context budget (bench/footprint.py).
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=4, max_length=20),
    AfterValidator(_e164),
    WithJsonSchema({"type": "string", "description": "E.164 number, e.g. +33612345678"}),
]

Limit = Annotated[int, Field(ge=1, le=100, description="Page size")]
Cursor = Annotated[
    str, StringConstraints(max_length=512), WithJsonSchema({"type": "string", "description": "next_cursor of the last page"})
]
Page = Annotated[int, Field(ge=1, le=10000, description="Page number, from 1")]
Url = Annotated[
    str,
    StringConstraints(pattern=r"^https?://\S+$", max_length=2048),
    WithJsonSchema({"type": "string", "format": "uri", "description": "Public http(s) URL"}),
]
