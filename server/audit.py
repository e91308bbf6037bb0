"""Append-only JSONL record of every mutating call: who/what/where, never message bodies or keys.

Arguments are kept by name; values that are free text (bodies, captions, names), phone numbers or
secrets are replaced by a short keyed hash, `hmac:` + HMAC-SHA256(audit key, canonical JSON), so an
auditor holding the install's key (server/install_key.py: `audit_key`) can match a record to a
message, while the log alone holds no personal data: an unkeyed SHA-256 of a phone number is
reversed by trying the few billion numbers of a country, in seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from pydantic_core import to_jsonable_python

log = logging.getLogger("msgflash_mcp.audit")

# Arguments safe to keep verbatim: ids, enums, counts, schedules. Everything else is hashed.
_KEEP = {
    "instance_id",
    "template_id",
    "contact_id",
    "group_id",
    "campaign_id",
    "id",
    "job_id",
    "lookup_id",
    "type",
    "repeat",
    "scheduled_at",
    "schedule",
    "events",
    "recipients_type",
    "workspace",
    "limit",
}


def jsonable(value: Any) -> Any:
    """`value` as plain JSON data, whatever it holds: an audit record must never fail a call.

    Datetimes, Decimals, sets, pydantic models, enums... are converted the way pydantic dumps them;
    bytes as base64 (they need not be UTF-8); NaN/inf as null (strict JSON); anything pydantic does
    not know as its `str`. A dict that still fails (a circular value inside) is converted key by
    key, so one odd argument costs its own detail, not the whole record's structure.
    """
    try:
        return _convert(value)
    except Exception:  # the record is written anyway
        if isinstance(value, dict):
            return {_text(key): _converted_or_text(item) for key, item in value.items()}  # type: ignore[misc]
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


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """One JSON line for `value`; never raises (see `jsonable`)."""
    return json.dumps(jsonable(value), sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def keyed_digest(value: Any, key: bytes) -> str:
    raw = dumps(value, sort_keys=True).encode()
    return "hmac:" + hmac.new(key, raw, hashlib.sha256).hexdigest()[:16]


def redact_args(args: dict[str, Any], key: bytes) -> dict[str, Any]:
    return {
        name: (value if name in _KEEP else keyed_digest(value, key)) for name, value in args.items() if value is not None
    }


class AuditLog:
    def __init__(self, path: Path | None, key: bytes = b"") -> None:
        if path is not None and not key:
            raise ValueError("an audit log needs the install's audit key (server/install_key.py)")
        self._path = path
        self._key = key
        self._lock = anyio.Lock()

    def redact(self, args: dict[str, Any]) -> dict[str, Any]:
        """`args` as this log records them."""
        return redact_args(args, self._key)

    @property
    def enabled(self) -> bool:
        return self._path is not None

    async def record(
        self,
        *,
        tool: str,
        workspace: str | None,
        args: dict[str, Any],
        confirmation: str,
        outcome: str,
        api_id: str | None = None,
        principal: str = "local",
    ) -> None:
        if self._path is None:
            return
        # Recording happens after the request left: whatever fails here (an odd value, a full disk)
        # is logged and swallowed, so a done request is never reported as an error.
        try:
            entry = {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "tool": tool,
                "workspace": workspace,
                "principal": principal,
                "args": self.redact(args),
                "confirmation": confirmation,
                "outcome": outcome,
                "api_id": api_id,
            }
            line = dumps(entry) + "\n"
            async with self._lock:
                await anyio.to_thread.run_sync(self._append, line)
        except Exception as exc:
            # The reason only (an OSError's strerror, else the exception type): never a value of the record.
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            log.error("audit log %s: record of %s (outcome %s) not written: %s", self._path, tool, outcome, reason)

    def _append(self, line: str) -> None:
        assert self._path is not None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # O_APPEND: each record is one write at the end, even with several processes on one file;
        # created owner-only, since records name principals, workspaces and ids.
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(line)
