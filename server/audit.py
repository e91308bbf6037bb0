"""Append-only JSONL record of every mutating call: who/what/where, never message bodies or keys.

Arguments are kept by name; values that are free text (bodies, captions, names) or secrets are
replaced by a short SHA-256 so an auditor can match a record to a message without the log holding
personal data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

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


def _digest(value: Any) -> str:
    raw = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False).encode()
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:16]


def redact_args(args: dict[str, Any]) -> dict[str, Any]:
    return {name: (value if name in _KEEP else _digest(value)) for name, value in args.items() if value is not None}


class AuditLog:
    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = anyio.Lock()

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
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "tool": tool,
            "workspace": workspace,
            "principal": principal,
            "args": redact_args(args),
            "confirmation": confirmation,
            "outcome": outcome,
            "api_id": api_id,
        }
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
        async with self._lock:
            try:
                await anyio.to_thread.run_sync(self._append, line)
            except OSError as exc:  # an unwritable audit log must not hide the call's outcome
                log.error("audit log %s not writable: %s", self._path, exc)

    def _append(self, line: str) -> None:
        assert self._path is not None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # O_APPEND: each record is one write at the end, even with several processes on one file;
        # created owner-only, since records name principals, workspaces and ids.
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(line)
