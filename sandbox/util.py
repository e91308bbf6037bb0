"""Small shared helpers: timestamps, ids, phone numbers, cursors and body validation."""

from __future__ import annotations

import base64
import binascii
import functools
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import ApiError, invalid

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
NAMESPACE = uuid.UUID("5a5a5a5a-0000-4000-8000-00000000f1a5")


def stable_id(name: str) -> str:
    """Deterministic UUID for seed objects (uuid5 of a readable name)."""
    return str(uuid.uuid5(NAMESPACE, name))


def new_id() -> str:
    return str(uuid.uuid4())


def provider_id(msg_id: str) -> str:
    """The WhatsApp provider's message id (Baileys style, as in REFERENCE examples) for one of ours."""
    return "BAE5" + msg_id.replace("-", "")[:12].upper()


def is_uuid(value: object) -> bool:
    return isinstance(value, str) and bool(_UUID_RE.match(value))


def is_hex_color(value: object) -> bool:
    return isinstance(value, str) and bool(_HEX_COLOR.match(value))


def iso(ts: float | datetime | None) -> str | None:
    if ts is None:
        return None
    dt = ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, UTC)
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(value: object) -> float | None:
    """Epoch seconds for an ISO 8601 string, or None when it is not one (naive times are UTC)."""
    if not isinstance(value, str) or not value or len(value) > 40:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def e164(value: object) -> str | None:
    """The E.164 form of a valid international number, else None."""
    if not isinstance(value, str) or not value.startswith("+") or len(value) > 20:
        return None
    return _e164(value)


@functools.lru_cache(maxsize=8192)
def _e164(value: str) -> str | None:  # phonenumbers is slow; numbers repeat a lot
    import phonenumbers  # lazy: ~13 ms of start-up, needed only once a number is checked

    try:
        num = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def is_public_url(value: object, https_only: bool = False) -> bool:
    if not isinstance(value, str) or len(value) > 2048 or any(c.isspace() for c in value):
        return False
    m = re.match(r"^(https?)://([^/?#@]+)(?:[/?#].*)?$", value)
    if not m:
        return False
    return not (https_only and m.group(1) != "https")


# ---------------------------------------------------------------- cursors


def encode_cursor(*parts: object) -> str:
    raw = "|".join(str(p) for p in parts)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, nparts: int = 2) -> list[str]:
    try:
        pad = "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(cursor + pad).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise invalid([{"field": "cursor", "message": "Invalid cursor"}]) from exc
    parts = raw.rsplit("|", nparts - 1)
    if len(parts) != nparts:
        raise invalid([{"field": "cursor", "message": "Invalid cursor"}])
    return parts


def query_int(query: dict[str, str], name: str, default: int, maximum: int, minimum: int = 1) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid([{"field": name, "message": "Expected an integer"}]) from None
    if value < minimum or value > maximum:
        raise invalid([{"field": name, "message": f"Must be between {minimum} and {maximum}"}])
    return value


def like_contains(search: str) -> str:
    """A case-folded `LIKE ? ESCAPE '\\'` pattern matching `search` literally anywhere: `%` and `_` in
    what the caller typed are characters to find, not SQL wildcards ("50%" must not match "500")."""
    literal = search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{literal}%"


def query_search(query: dict[str, str]) -> str | None:
    search = query.get("search")
    if search is None:
        return None
    if not 1 <= len(search) <= 100:
        raise invalid([{"field": "search", "message": "Must be 1-100 characters"}])
    return search


# ---------------------------------------------------------------- body validation


@dataclass(frozen=True)
class F:
    """One body field: kind is string|uuid|number|integer|boolean|object|array|string[]|uuid[]|enum."""

    kind: str
    required: bool = False
    enum: tuple[str, ...] = ()
    max_len: int | None = None
    min_len: int | None = None
    max_items: int | None = None
    min_items: int | None = None


def _type_ok(kind: str, value: Any) -> bool:
    if kind in ("string", "uuid", "enum"):
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind in ("array", "string[]", "uuid[]"):
        return isinstance(value, list)
    return False


def validate(body: Any, spec: dict[str, F], extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Check a JSON body against spec; unknown fields, wrong types and missing fields -> VALIDATION_ERROR.

    Returns the body with null optional values dropped.  Problems are accumulated in `details`.
    """
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise invalid([{"field": "body", "message": "Expected a JSON object"}])
    details: list[dict[str, Any]] = list(extra or [])
    out: dict[str, Any] = {}
    for name in body:
        if name not in spec:
            details.append({"field": name, "message": "Unknown field"})
    for name, f in spec.items():
        value = body.get(name)
        if value is None:
            if f.required:
                details.append({"field": name, "message": "Required"})
            continue
        if not _type_ok(f.kind, value):
            details.append({"field": name, "message": f"Expected {f.kind}"})
            continue
        problem = _check_value(f, value)
        if problem:
            details.append({"field": name, "message": problem})
            continue
        out[name] = value
    if details:
        raise invalid(details)
    return out


def _check_value(f: F, value: Any) -> str | None:
    if f.kind == "uuid" and not is_uuid(value):
        return "Expected a UUID"
    if f.kind == "enum" and value not in f.enum:
        return "Must be one of: " + ", ".join(f.enum)
    if isinstance(value, str):
        if f.max_len is not None and len(value) > f.max_len:
            return f"At most {f.max_len} characters"
        if f.min_len is not None and len(value) < f.min_len:
            return f"At least {f.min_len} characters"
    if isinstance(value, list):
        if f.max_items is not None and len(value) > f.max_items:
            return f"At most {f.max_items} items"
        if f.min_items is not None and len(value) < f.min_items:
            return f"At least {f.min_items} items"
        if f.kind == "string[]" and not all(isinstance(v, str) for v in value):
            return "Expected an array of strings"
        if f.kind == "uuid[]" and not all(is_uuid(v) for v in value):
            bad = next(v for v in value if not is_uuid(v))
            return f"Expected an array of UUIDs (got {str(bad)[:40]!r})"
    return None


def require(cond: bool, field: str, message: str, details: list[dict[str, Any]]) -> None:
    if not cond:
        details.append({"field": field, "message": message})


def raise_if(details: list[dict[str, Any]]) -> None:
    if details:
        raise invalid(details)


def public(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop private bookkeeping keys (those starting with '_')."""
    return {k: v for k, v in obj.items() if k[0] != "_"}


__all__ = ["ApiError", "F"]
