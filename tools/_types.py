"""Typed inputs shared by the tool groups: ids, E.164 numbers, pagination.

Validated at the edge, before any request: a model that sends a bad value gets a readable error
naming the field, and nothing reaches the API.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema

from ..server.audit import KEPT


def _canonical_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise ValueError("must be a UUID (take ids from the matching list_* tool)") from None


# Ids: validated UUIDs kept as canonical strings (path parameters can never smuggle '../' or '/'). Ids carry
# no personal data: the audit keeps their values (`KEPT`). No description and no `format: uuid` in the schema:
# an argument's name (`contact_id`) says what it is, the instructions say ids come from list_* tools once for
# the whole catalogue (server/app.py), and the validator answers a wrong value with that hint; "Contact id"
# on each of ~50 arguments cost ~200 tokens of the catalogue's budget.
InstanceId = Annotated[str, AfterValidator(_canonical_uuid), KEPT]
MessageId = Annotated[str, AfterValidator(_canonical_uuid), KEPT]
CampaignId = Annotated[str, AfterValidator(_canonical_uuid), KEPT]
TemplateId = Annotated[str, AfterValidator(_canonical_uuid), KEPT]
ContactId = Annotated[str, AfterValidator(_canonical_uuid), KEPT]
GroupId = Annotated[str, AfterValidator(_canonical_uuid), KEPT]
JobId = Annotated[str, AfterValidator(_canonical_uuid), KEPT]
WebhookId = Annotated[str, AfterValidator(_canonical_uuid), KEPT]
LookupId = Annotated[str, AfterValidator(_canonical_uuid), KEPT]


def _e164(value: str) -> str:
    import phonenumbers  # lazy: ~13 ms of start-up, needed only once a number is checked

    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValueError("must be an international number in E.164 form, e.g. +33612345678") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number; use E.164, e.g. +33612345678")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]+$")


def phone_search(text: str) -> str | None:
    """The form of a phone number the API's search matches, or None when `text` is not a phone number.

    The API stores E.164 and its search is a plain "contains", so `+55 11 91234-5678` finds nothing
    as typed. An international number becomes its E.164 form; a national one (`(11) 91234-5678`,
    `06 12 34 56 78`) becomes its digits without trunk zeros, which is a substring of the stored
    E.164 number in most numbering plans (no default region is configured to do better).
    """
    text = text.strip()
    digits = re.sub(r"\D", "", text)
    if not _PHONE_LIKE.match(text) or len(digits) < 6:
        return None
    if text.startswith("+"):
        try:
            return _e164(text)
        except ValueError:
            return "+" + digits
    return digits.lstrip("0") or None


# Validation below is strict; the JSON schema the model reads states the rule in fewer tokens
# (WithJsonSchema), because 56 tools share one context budget (bench/footprint.py).
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=4, max_length=20),
    AfterValidator(_e164),
    WithJsonSchema({"type": "string", "description": "E.164 number, e.g. +33612345678"}),
]

Limit = Annotated[int, Field(ge=1, le=100, description="Page size"), KEPT]
Cursor = Annotated[
    str, StringConstraints(max_length=512), WithJsonSchema({"type": "string", "description": "next_cursor of the last page"})
]
Page = Annotated[int, Field(ge=1, le=10000, description="Page number, from 1")]
Url = Annotated[
    str,
    StringConstraints(pattern=r"^https?://\S+$", max_length=2048),
    WithJsonSchema({"type": "string", "format": "uri", "description": "Public http(s) URL"}),
]
