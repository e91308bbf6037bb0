"""Who a delete or edit touches, as a person reads it: the first few names and phones plus the exact
count, as one quoted line (for the action) and as the `who` block of a plan's view (notes PLAN_SHAPE:
count + sample). Names and phones are third-party text: they pass `server.untrusted` here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..server.untrusted import names_line, one_line

SAMPLE = 5  # people named in a preview; the count covers the rest


def person(contact: dict[str, Any]) -> dict[str, str]:
    return {"name": one_line(contact.get("name") or "", 80), "phone": one_line(contact.get("phone") or "", 32)}


def people(contacts: Sequence[dict[str, Any]], count: int, first: int = 3) -> tuple[str, dict[str, Any]]:
    """('"Ana Souza" (+55…), "Bo" (+33…) and 4 more', {"count": 6, "sample": [...]})."""
    return names_line(contacts, count, first), {"count": count, "sample": [person(c) for c in contacts[:SAMPLE]]}


