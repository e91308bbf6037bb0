"""Per-request context and document helpers over the sqlite tables."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import not_found

if TYPE_CHECKING:
    from .app import Sandbox


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def loads(text: str) -> Any:
    return json.loads(text)


@dataclass
class Ctx:
    sandbox: Sandbox
    db: sqlite3.Connection
    ws: str  # workspace id: the user id (personal) or the team id
    kind: str  # "personal" | "team"
    user_id: str  # the account owner (plan, quotas, billing)
    now: float  # epoch seconds from the sandbox clock
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    created_id: str | None = None
    wake_at: float | None = None  # earliest lifecycle transition this request scheduled

    def wake(self, at: float | None) -> None:
        if at is not None and (self.wake_at is None or at < self.wake_at):
            self.wake_at = at

    def get(self, table: str, obj_id: str, what: str) -> dict[str, Any]:
        row = self.db.execute(f"SELECT data FROM {table} WHERE id = ? AND ws = ?", (obj_id, self.ws)).fetchone()
        if row is None:
            raise not_found(what)
        return loads(row["data"])

    def find(self, table: str, obj_id: str) -> dict[str, Any] | None:
        row = self.db.execute(f"SELECT data FROM {table} WHERE id = ? AND ws = ?", (obj_id, self.ws)).fetchone()
        return None if row is None else loads(row["data"])

    def save(self, table: str, obj: dict[str, Any]) -> None:
        self.db.execute(f"UPDATE {table} SET data = ? WHERE id = ?", (dumps(obj), obj["id"]))
