"""The local record of campaigns created through this server: the API cannot list campaigns.

Each successful `create_campaign` leaves one entry: id, workspace, name, template id, the
recipients selector, schedule, repeat, instance, and when it was created. `list_campaigns` and the
`msgflash://campaigns` resource read it back (it knows nothing of campaigns made elsewhere: the
dashboard, another server), and edits that would change what a still-pending campaign sends
(a template it uses, the phone or a rendered field of one of its recipients) are guarded with it:
`unfinished(workspace)` gives every entry not yet seen finished, whatever its age, and
`mark_finished` drops one from that lookup for good once the API says it will send nothing more.

A write that fails (SQLite locked by another process, Redis down) is kept in this process and retried on
every later use of the record, and it stays visible to this process's lookups meanwhile;
`remember_campaign` reports the failure to its caller, which tells the person.

Where it lives:
- Redis when `MSGFLASH_REDIS_URL` is set, so every replica reads and writes one record;
- else SQLite: `MSGFLASH_CAMPAIGN_DB` (a path, or `:memory:`), by default a file in the user data
  dir (platformdirs, like the sandbox's). On the embedded sandbox the record is the sandbox's own
  (a separate file, or memory when the sandbox forgets), so simulated campaigns never mix with real ones.

`record_for(settings, redis)` makes a server's one record (`Runtime.campaigns`), opened on first use.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .wire import json_object

if TYPE_CHECKING:
    import sqlite3

    from .core.settings import Settings

log = logging.getLogger("msgflash_mcp.campaign_record")

# Statuses after which a campaign sends nothing more: inferred(campaign-completed-status) (REFERENCE §19.2).
# A campaign's lifecycle, not a job's: it ends `completed` (tools/_polling.JOB_FINISHED: a job ends `done`), and
# a repeating one can be `completed` between runs (still_pending).
CAMPAIGN_FINISHED = frozenset({"completed", "cancelled", "failed"})
REPEATING = frozenset({"daily", "weekly"})


def still_pending(status: str, repeat: str | None) -> bool:
    """Will the campaign send again? A daily/weekly one does until it is paused (or cancelled) for good,
    even if the API calls it `completed` between runs (inferred(campaign-repeat-status))."""
    if repeat in REPEATING:
        return status not in ("cancelled", "failed")
    return status not in CAMPAIGN_FINISHED
LIST_LIMIT = 200  # newest entries returned at most by one list
# How long a SQLite write waits for another process's lock before it counts as failed (reported, retried).
BUSY_TIMEOUT = 5.0
LIVE_MAX = 10  # newest entries whose live status one read fetches (list_campaigns, edit previews: one GET each)


@dataclass(frozen=True)
class CampaignEntry:
    id: str
    workspace: str  # workspace name: "personal" or a team name
    name: str
    created_at: float  # unix seconds
    schedule: str | None = None  # ISO 8601 UTC, as sent
    repeat: str | None = None
    template_id: str | None = None
    instance_id: str | None = None
    recipients: Mapping[str, Any] = field(default_factory=dict[str, Any])  # the selector as sent
    finished: bool = False  # the API said it sends nothing more: pending-campaign lookups skip it

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["recipients"] = dict(self.recipients)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CampaignEntry:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    @classmethod
    def from_created(
        cls, created: Mapping[str, Any], request: Mapping[str, Any], workspace: str, now: float
    ) -> CampaignEntry:
        """The entry for a campaign the API just created: its answer first, the request where it is silent."""
        return cls(
            id=str(created["id"]),
            workspace=workspace,
            name=str(created.get("name") or request.get("name") or ""),
            created_at=now,
            schedule=created.get("schedule") or request.get("schedule"),
            repeat=created.get("repeat") or request.get("repeat"),
            template_id=created.get("templateId") or request.get("templateId"),
            instance_id=created.get("instanceId") or request.get("instanceId"),
            recipients=dict(created.get("recipients") or request.get("recipients") or {}),
        )


class CampaignRecord(Protocol):
    async def add(self, entry: CampaignEntry) -> None: ...

    async def list(self, workspace: str | None = None, limit: int = LIST_LIMIT) -> list[CampaignEntry]:
        """Newest first; only `workspace`'s when given."""
        ...

    async def get(self, campaign_id: str) -> CampaignEntry | None: ...

    async def unfinished(self, workspace: str) -> list[CampaignEntry]:
        """Every entry of `workspace` not marked finished, whatever its age, newest first."""
        ...

    async def mark_finished(self, campaign_id: str) -> None: ...

    async def close(self) -> None: ...


class SqliteCampaignRecord:
    """One table in one SQLite file; calls run in a worker thread (a commit may fsync)."""

    def __init__(self, path: str) -> None:
        import sqlite3  # here, not at import: start-up of servers that never open the record stays lean

        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db: sqlite3.Connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS campaigns (id TEXT PRIMARY KEY, workspace TEXT NOT NULL, "
                "created_at REAL NOT NULL, entry TEXT NOT NULL)"
            )
            self._db.execute("CREATE INDEX IF NOT EXISTS campaigns_by_time ON campaigns (workspace, created_at)")

    def _add(self, entry: CampaignEntry) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO campaigns (id, workspace, created_at, entry) VALUES (?, ?, ?, ?)",
                (entry.id, entry.workspace, entry.created_at, json.dumps(entry.as_dict())),
            )

    def _list(self, workspace: str | None, limit: int) -> list[CampaignEntry]:
        with self._lock:
            if workspace is None:
                rows = self._db.execute("SELECT entry FROM campaigns ORDER BY created_at DESC LIMIT ?", (limit,))
            else:
                rows = self._db.execute(
                    "SELECT entry FROM campaigns WHERE workspace = ? ORDER BY created_at DESC LIMIT ?",
                    (workspace, limit),
                )
            return [CampaignEntry.from_dict(json.loads(row[0])) for row in rows.fetchall()]

    def _get(self, campaign_id: str) -> CampaignEntry | None:
        with self._lock:
            row = self._db.execute("SELECT entry FROM campaigns WHERE id = ?", (campaign_id,)).fetchone()
        return CampaignEntry.from_dict(json.loads(row[0])) if row else None

    def _unfinished(self, workspace: str) -> list[CampaignEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT entry FROM campaigns WHERE workspace = ? AND NOT coalesce(json_extract(entry, '$.finished'), 0) "
                "ORDER BY created_at DESC",
                (workspace,),
            ).fetchall()
        return [CampaignEntry.from_dict(json.loads(row[0])) for row in rows]

    def _mark_finished(self, campaign_id: str) -> None:
        with self._lock, self._db:
            self._db.execute(
                "UPDATE campaigns SET entry = json_set(entry, '$.finished', json('true')) WHERE id = ?", (campaign_id,)
            )

    async def add(self, entry: CampaignEntry) -> None:
        from anyio.to_thread import run_sync

        await run_sync(self._add, entry)

    async def list(self, workspace: str | None = None, limit: int = LIST_LIMIT) -> list[CampaignEntry]:
        from anyio.to_thread import run_sync

        return await run_sync(self._list, workspace, limit)

    async def get(self, campaign_id: str) -> CampaignEntry | None:
        from anyio.to_thread import run_sync

        return await run_sync(self._get, campaign_id)

    async def unfinished(self, workspace: str) -> list[CampaignEntry]:
        from anyio.to_thread import run_sync

        return await run_sync(self._unfinished, workspace)

    async def mark_finished(self, campaign_id: str) -> None:
        from anyio.to_thread import run_sync

        await run_sync(self._mark_finished, campaign_id)

    async def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisCampaignRecord:
    """Entries as JSON in one hash, ordered by a sorted set per workspace (shared by every replica)."""

    def __init__(self, redis: Any, prefix: str = "msgflash:campaigns:") -> None:
        self._redis = redis
        self._entries = prefix + "entries"
        self._prefix = prefix

    def _order(self, workspace: str | None) -> str:
        return self._prefix + ("by-time" if workspace is None else "by-time:" + workspace)

    async def add(self, entry: CampaignEntry) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._entries, entry.id, json.dumps(entry.as_dict()))
        pipe.zadd(self._order(None), {entry.id: entry.created_at})
        pipe.zadd(self._order(entry.workspace), {entry.id: entry.created_at})
        await pipe.execute()

    async def list(self, workspace: str | None = None, limit: int = LIST_LIMIT) -> list[CampaignEntry]:
        ids = await self._redis.zrevrange(self._order(workspace), 0, limit - 1)  # limit 0: all
        if not ids:
            return []
        values = await self._redis.hmget(self._entries, ids)
        return [CampaignEntry.from_dict(json.loads(v)) for v in values if v is not None]

    async def get(self, campaign_id: str) -> CampaignEntry | None:
        value = await self._redis.hget(self._entries, campaign_id)
        return CampaignEntry.from_dict(json.loads(value)) if value is not None else None

    async def unfinished(self, workspace: str) -> list[CampaignEntry]:
        entries = await self.list(workspace, limit=0)  # 0: every entry (zrevrange 0..-1)
        return [entry for entry in entries if not entry.finished]

    async def mark_finished(self, campaign_id: str) -> None:
        entry = await self.get(campaign_id)
        if entry is not None:  # one field of one hash entry: a concurrent mark writes the same value
            await self._redis.hset(self._entries, entry.id, json.dumps(replace(entry, finished=True).as_dict()))

    async def close(self) -> None:  # the Redis client belongs to the runtime
        return None


def default_path(settings: Settings) -> str:
    """Where the SQLite record lives when MSGFLASH_CAMPAIGN_DB does not say (see the module docstring)."""
    if settings.campaign_db:
        return settings.campaign_db
    if settings.use_sandbox and settings.sandbox_db == ":memory:":
        return ":memory:"
    if settings.use_sandbox and settings.sandbox_db:
        return str(Path(settings.sandbox_db).with_suffix(".campaigns.sqlite3"))
    from platformdirs import user_data_dir

    name = "sandbox-campaigns.sqlite3" if settings.use_sandbox else "campaigns.sqlite3"
    return str(Path(user_data_dir("msgflash-mcp", appauthor=False)) / name)


class _OnFirstUse:
    """Opens the real record on first use: servers that never touch campaigns open no file."""

    def __init__(self, settings: Settings, redis: Any) -> None:
        self._settings = settings
        self._redis = redis
        self._record: CampaignRecord | None = None
        self._unsaved: dict[str, CampaignEntry] = {}  # writes that failed: retried on every later use

    def _open(self) -> CampaignRecord:
        if self._record is None:
            if self._redis is not None:
                prefix = "msgflash:sandbox-campaigns:" if self._settings.use_sandbox else "msgflash:campaigns:"
                self._record = RedisCampaignRecord(self._redis, prefix)
            else:
                self._record = SqliteCampaignRecord(default_path(self._settings))
        return self._record

    async def _flush(self) -> None:
        """Write the entries an earlier add could not; those that fail again stay for the next use."""
        for entry in list(self._unsaved.values()):
            try:
                await self._open().add(entry)
            except Exception:
                log.warning("campaign %s is still not recorded locally", entry.id, exc_info=True)
                return
            self._unsaved.pop(entry.id, None)

    def _with_unsaved(self, entries: list[CampaignEntry], workspace: str | None) -> list[CampaignEntry]:
        kept = [e for e in self._unsaved.values() if workspace is None or e.workspace == workspace]
        if not kept:
            return entries
        known = {e.id for e in entries}
        merged = entries + [e for e in kept if e.id not in known]
        return sorted(merged, key=lambda e: e.created_at, reverse=True)

    async def add(self, entry: CampaignEntry) -> None:
        self._unsaved[entry.id] = entry
        await self._flush()
        if entry.id in self._unsaved:
            raise RecordWriteFailed(f"campaign {entry.id} could not be recorded locally")

    async def list(self, workspace: str | None = None, limit: int = LIST_LIMIT) -> list[CampaignEntry]:
        await self._flush()
        return self._with_unsaved(await self._open().list(workspace, limit), workspace)[:limit]

    async def get(self, campaign_id: str) -> CampaignEntry | None:
        await self._flush()
        return self._unsaved.get(campaign_id) or await self._open().get(campaign_id)

    async def unfinished(self, workspace: str) -> list[CampaignEntry]:
        await self._flush()
        return self._with_unsaved(await self._open().unfinished(workspace), workspace)

    async def mark_finished(self, campaign_id: str) -> None:
        if campaign_id in self._unsaved:
            self._unsaved[campaign_id] = replace(self._unsaved[campaign_id], finished=True)
        await self._open().mark_finished(campaign_id)

    async def close(self) -> None:
        """Close the open record; a later use opens it again."""
        record, self._record = self._record, None
        if record is not None:
            await record.close()


class RecordWriteFailed(Exception):
    """An entry could not be written; this process keeps it and retries (see the module docstring)."""


def record_for(settings: Settings, redis: Any) -> CampaignRecord:
    """A server's one record: in Redis when the server has one, else SQLite (opened on first use)."""
    return _OnFirstUse(settings, redis)


async def remember_campaign(
    record: CampaignRecord | None, workspace: str | None, answer: Any, request: Mapping[str, Any], now: float
) -> bool:
    """create_campaign's hook, called after a successful create with the API's answer and the request sent.

    Never fails the call: the campaign exists whatever happens here. A failed write is logged and
    reported as False, and the caller must say so in its outcome: until the entry is written, other
    processes neither list it nor guard edits under it (this one retries, and guards meanwhile)."""
    created = json_object(answer)
    if record is None or workspace is None or created is None or not created.get("id"):
        return False
    try:
        await record.add(CampaignEntry.from_created(created, request, workspace, now))
    except Exception:
        log.warning("campaign %s was created but could not be recorded locally", created.get("id"), exc_info=True)
        return False
    return True
