"""The opt-out list of each workspace: numbers that asked not to be messaged. The API has no such concept,
so only this server can keep the promise (WhatsApp's business policy requires honouring opt-outs).

An entry is made when someone writes an opt-out word to a business number (tools/opt_outs.py scans the
inbound messages with tools/inbound.py's `is_opt_out`, the one recogniser) or by the add_opt_out tool;
remove_opt_out deletes it. Every sending plan leaves the listed numbers out (tools/opt_outs.py), so the list is part of what a confirmation is bound to.

Where it lives: beside the campaign record (server/campaign_record.py), in the same place and for the same
reasons. Redis when `MSGFLASH_REDIS_URL` is set, so every replica honours one list; else a table in the
record's SQLite file (`default_path`). Each workspace also keeps a scan mark: the `createdAt` of the newest
inbound message already read, so a scan reads only what arrived since.

`opt_outs_for(settings, redis)` makes a server's one store (`Runtime.opt_outs`), opened on first use.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .campaign_record import default_path
from .core.redis_reply import text_or_none

if TYPE_CHECKING:
    import sqlite3

    from .core.settings import Settings

@dataclass(frozen=True)
class OptOut:
    phone: str  # E.164, as the API writes numbers
    at: float  # unix seconds: when the person wrote it, or when the entry was added
    source: str  # "inbound": they wrote `word` (message `message_id`); "added": add_opt_out
    word: str | None = None
    message_id: str | None = None
    note: str | None = None  # why it was added by hand, as the person said it

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OptOut:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class OptOutStore(Protocol):
    async def add(self, workspace: str, entry: OptOut) -> bool:
        """Record an opt-out; False when the number is already listed (the first entry stays)."""
        ...

    async def remove(self, workspace: str, phone: str) -> bool:
        """False when the number was not listed."""
        ...

    async def list(self, workspace: str) -> list[OptOut]:
        """Oldest first."""
        ...

    async def mark(self, workspace: str) -> str | None:
        """`createdAt` of the newest inbound message a scan has read (None: never scanned)."""
        ...

    async def set_mark(self, workspace: str, mark: str) -> None: ...

    async def close(self) -> None: ...


class SqliteOptOuts:
    """Two tables in the campaign record's SQLite file; calls run in a worker thread (a commit may fsync)."""

    def __init__(self, path: str) -> None:
        import sqlite3  # here, not at import: servers that never send open no file

        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        from . import campaign_record  # its file, so its wait for another process's write lock

        self._db: sqlite3.Connection = sqlite3.connect(path, timeout=campaign_record.BUSY_TIMEOUT, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS opt_outs (workspace TEXT NOT NULL, phone TEXT NOT NULL, at REAL NOT NULL, "
                "entry TEXT NOT NULL, PRIMARY KEY (workspace, phone))"
            )
            self._db.execute("CREATE TABLE IF NOT EXISTS opt_out_marks (workspace TEXT PRIMARY KEY, mark TEXT NOT NULL)")

    def _add(self, workspace: str, entry: OptOut) -> bool:
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO opt_outs (workspace, phone, at, entry) VALUES (?, ?, ?, ?)",
                (workspace, entry.phone, entry.at, json.dumps(entry.as_dict())),
            )
            return cursor.rowcount == 1

    def _remove(self, workspace: str, phone: str) -> bool:
        with self._lock, self._db:
            cursor = self._db.execute("DELETE FROM opt_outs WHERE workspace = ? AND phone = ?", (workspace, phone))
            return cursor.rowcount == 1

    def _list(self, workspace: str) -> list[OptOut]:
        with self._lock:
            rows = self._db.execute("SELECT entry FROM opt_outs WHERE workspace = ? ORDER BY at", (workspace,))
            return [OptOut.from_dict(json.loads(row[0])) for row in rows.fetchall()]

    def _mark(self, workspace: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT mark FROM opt_out_marks WHERE workspace = ?", (workspace,)).fetchone()
        return row[0] if row else None

    def _set_mark(self, workspace: str, mark: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO opt_out_marks (workspace, mark) VALUES (?, ?)", (workspace, mark))

    async def add(self, workspace: str, entry: OptOut) -> bool:
        from anyio.to_thread import run_sync

        return await run_sync(self._add, workspace, entry)

    async def remove(self, workspace: str, phone: str) -> bool:
        from anyio.to_thread import run_sync

        return await run_sync(self._remove, workspace, phone)

    async def list(self, workspace: str) -> list[OptOut]:
        from anyio.to_thread import run_sync

        return await run_sync(self._list, workspace)

    async def mark(self, workspace: str) -> str | None:
        from anyio.to_thread import run_sync

        return await run_sync(self._mark, workspace)

    async def set_mark(self, workspace: str, mark: str) -> None:
        from anyio.to_thread import run_sync

        await run_sync(self._set_mark, workspace, mark)

    async def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisOptOuts:
    """One hash per workspace (phone -> entry JSON) and one scan mark, shared by every replica."""

    def __init__(self, redis: Any, prefix: str = "msgflash:opt-outs:") -> None:
        self._redis = redis
        self._prefix = prefix

    def _list_key(self, workspace: str) -> str:
        return self._prefix + "list:" + workspace

    async def add(self, workspace: str, entry: OptOut) -> bool:
        return bool(await self._redis.hsetnx(self._list_key(workspace), entry.phone, json.dumps(entry.as_dict())))

    async def remove(self, workspace: str, phone: str) -> bool:
        return bool(await self._redis.hdel(self._list_key(workspace), phone))

    async def list(self, workspace: str) -> list[OptOut]:
        values = await self._redis.hvals(self._list_key(workspace))
        return sorted((OptOut.from_dict(json.loads(v)) for v in values), key=lambda e: (e.at, e.phone))

    async def mark(self, workspace: str) -> str | None:
        return text_or_none(await self._redis.get(self._prefix + "mark:" + workspace))

    async def set_mark(self, workspace: str, mark: str) -> None:
        await self._redis.set(self._prefix + "mark:" + workspace, mark)

    async def close(self) -> None:  # the Redis client belongs to the runtime
        return None


class _OnFirstUse:
    """Opens the real store on first use: servers that never send open no file."""

    def __init__(self, settings: Settings, redis: Any) -> None:
        self._settings = settings
        self._redis = redis
        self._store: OptOutStore | None = None

    def _open(self) -> OptOutStore:
        if self._store is None:
            if self._redis is not None:
                sandbox = self._settings.use_sandbox
                self._store = RedisOptOuts(self._redis, "msgflash:sandbox-opt-outs:" if sandbox else "msgflash:opt-outs:")
            else:
                self._store = SqliteOptOuts(default_path(self._settings))
        return self._store

    async def add(self, workspace: str, entry: OptOut) -> bool:
        return await self._open().add(workspace, entry)

    async def remove(self, workspace: str, phone: str) -> bool:
        return await self._open().remove(workspace, phone)

    async def list(self, workspace: str) -> list[OptOut]:
        return await self._open().list(workspace)

    async def mark(self, workspace: str) -> str | None:
        return await self._open().mark(workspace)

    async def set_mark(self, workspace: str, mark: str) -> None:
        await self._open().set_mark(workspace, mark)

    async def close(self) -> None:
        """Close the open store; a later use opens it again."""
        store, self._store = self._store, None
        if store is not None:
            await store.close()


def opt_outs_for(settings: Settings, redis: Any) -> OptOutStore:
    """A server's one opt-out store: in Redis when the server has one, else SQLite (opened on first use)."""
    return _OnFirstUse(settings, redis)
