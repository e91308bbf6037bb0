"""Append-only JSONL record of every mutating call: who/what/where, never message bodies or keys.

Argument values are kept by their type (`Kept`: ids, page sizes; closed sets and dates); values that
are free text (bodies, captions, names), phone numbers or secrets are replaced by a short keyed hash, `hmac:` + HMAC-SHA256(audit key, canonical JSON), so an
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
import types
import typing
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from pydantic import AwareDatetime, BaseModel, FutureDatetime, NaiveDatetime, PastDatetime

from .canonical import canonical_json, jsonable

log = logging.getLogger("msgflash_mcp.audit")


class Kept:
    """Marks an argument type whose values the audit records verbatim: `Annotated[str, ..., KEPT]`.

    Put on a type, not a name: every argument of a kept type is kept, a new one included, with no list
    to edit. For ids and page sizes, which carry no personal data. Closed sets (Literal, Enum) and
    dates are kept by their nature; everything else (bodies, captions, names, phone numbers, URLs) is
    hashed.
    """

    def __repr__(self) -> str:
        return "KEPT"


KEPT = Kept()
_TIMES = (datetime, date, AwareDatetime, NaiveDatetime, FutureDatetime, PastDatetime)


def kept_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of a tool's argument model whose values the audit keeps verbatim."""
    return frozenset(
        name for name, info in model.model_fields.items()
        if any(isinstance(mark, Kept) for mark in info.metadata) or _kept_type(info.annotation)
    )


def _kept_type(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return any(isinstance(mark, Kept) for mark in args[1:]) or _kept_type(args[0])
    if origin is Literal:
        return True
    if origin in (typing.Union, types.UnionType):
        return all(_kept_type(arg) for arg in args if arg is not type(None))
    if origin in (list, tuple, set, frozenset):
        return bool(args) and all(_kept_type(arg) for arg in args if arg is not Ellipsis)
    return isinstance(annotation, type) and (issubclass(annotation, Enum) or annotation in _TIMES)


def dumps(value: Any) -> str:
    """One JSON line for `value`, keys in the record's order; never raises (see `canonical.jsonable`)."""
    return json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def keyed_digest(value: Any, key: bytes) -> str:
    return "hmac:" + hmac.new(key, canonical_json(value).encode(), hashlib.sha256).hexdigest()[:16]


def redact_args(args: Mapping[str, Any], key: bytes, keep: Collection[str] = ()) -> dict[str, Any]:
    """`args` as the audit records them: the names in `keep` verbatim, every other value as its keyed hash."""
    return {
        name: (value if name in keep else keyed_digest(value, key)) for name, value in args.items() if value is not None
    }


class AuditLog:
    def __init__(self, path: Path | None, key: bytes = b"") -> None:
        if path is not None and not key:
            raise ValueError("an audit log needs the install's audit key (server/install_key.py)")
        self._path = path
        self._key = key
        self._lock = anyio.Lock()

    def redact(self, args: Mapping[str, Any], keep: Collection[str] = ()) -> dict[str, Any]:
        """`args` as this log records them (`keep`: the tool's ToolSpec.audit_kept)."""
        return redact_args(args, self._key, keep)

    @property
    def enabled(self) -> bool:
        return self._path is not None

    async def record(
        self,
        *,
        tool: str,
        workspace: str | None,
        args: Mapping[str, Any],
        keep: Collection[str] = (),
        confirmation: str,
        outcome: str,
        api_id: str | None = None,
        principal: str = "local",
        role: str | None = None,
        client: str | None = None,
        scopes: Collection[str] | None = None,
    ) -> None:
        if self._path is None:
            return
        # Recording happens after the request left: whatever fails here (an odd value, a full disk)
        # is logged and swallowed, so a done request is never reported as an error.
        try:
            entry: dict[str, Any] = {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "tool": tool,
                "workspace": workspace,
                "principal": principal,
                "args": self.redact(args, keep),
                "confirmation": confirmation,
                "outcome": outcome,
                "api_id": api_id,
            }
            if role is not None:  # signed-in people only (server/auth/roles.py): "none" when they had no role
                entry["role"] = role
            # Callers over HTTP with a token (server/call/principal.py `Caller`); stdio lines stay as they were.
            if client is not None:  # OAuth client_id, or a static token's keyed hash: forensics, never identity
                entry["client"] = client
            if scopes is not None:  # resource-server mode: what the token granted, sorted
                entry["scopes"] = sorted(scopes)
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
