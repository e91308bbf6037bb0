"""Template placeholders: `{{contact.*}}`, `{{user.*}}`, `{{instance.*}}`, `{{custom.*}}`."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from .errors import ApiError

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)
_VALID = re.compile(r"^(contact|user|instance|custom)\.[A-Za-z_][A-Za-z0-9_]*$")


def extract(body: str | None) -> list[str]:
    """Ordered, de-duplicated variable names; TEMPLATE_INVALID on a malformed placeholder."""
    if not body:
        return []
    names: list[str] = []
    for m in _PLACEHOLDER.finditer(body):
        name = m.group(1).strip()
        if not _VALID.match(name):
            raise ApiError("TEMPLATE_INVALID", f"Invalid placeholder {{{{{name[:60]}}}}}",
                           [{"field": "body", "message": "Placeholders must look like {{contact.firstName}} "
                             "with namespace contact, user, instance or custom"}])
        if name not in names:
            names.append(name)
    rest = _PLACEHOLDER.sub("", body)
    if "{{" in rest or "}}" in rest:
        raise ApiError("TEMPLATE_INVALID", "Unbalanced placeholder braces",
                       [{"field": "body", "message": "Every {{ needs a matching }}"}])
    return names


def _contact_values(contact: dict[str, Any]) -> dict[str, Any]:
    name = contact.get("name") or ""
    first, _, last = name.partition(" ")
    values: dict[str, Any] = {"name": name, "fullName": name, "firstName": first, "lastName": last,
                              "phone": contact.get("phone")}
    meta = contact.get("meta") or {}
    for k, v in meta.items():
        if isinstance(v, str | int | float) and not isinstance(v, bool):
            values.setdefault(k, v)
    return {k: v for k, v in values.items() if v not in (None, "")}


def _user_values(db: sqlite3.Connection) -> dict[str, Any]:
    from .quotas import account

    acct = account(db)
    full = acct.get("fullName", "")
    first, _, last = full.partition(" ")
    return {k: v for k, v in {"fullName": full, "firstName": first, "lastName": last, "email": acct.get("email")}.items() if v}


def render(
    body: str,
    db: sqlite3.Connection,
    *,
    contact: dict[str, Any] | None,
    instance: dict[str, Any] | None,
    user_id: str,
    variables: dict[str, Any],
) -> tuple[str, list[str]]:
    """Rendered text and the list of unresolved variables (left as-is in the text)."""
    ctx: dict[str, dict[str, Any]] = {
        "contact": _contact_values(contact) if contact else {},
        "instance": {k: v for k, v in {"name": (instance or {}).get("name"), "waNumber": (instance or {}).get("waNumber")}.items() if v},
        "custom": {k: v for k, v in variables.items() if isinstance(v, str | int | float) and not isinstance(v, bool)},
        "user": {},
    }
    if "{{user." in body or "{{ user." in body:
        ctx["user"] = _user_values(db)
    missing: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name = m.group(1).strip()
        ns, _, key = name.partition(".")
        value = ctx.get(ns, {}).get(key)
        if value is None:
            if name not in missing:
                missing.append(name)
            return m.group(0)
        return str(value)

    return _PLACEHOLDER.sub(sub, body), missing
