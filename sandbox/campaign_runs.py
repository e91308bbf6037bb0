"""A campaign's runs on the sandbox clock: who it reaches, when that is decided, what each recipient
gets, and stats that add up.

- When the selector is resolved is a setting (`Resolution`), because the reference does not say:
  `create` (frozen when created), `start` (frozen when the first run starts; the default) or `run`
  (resolved again at every run of a repeat).
- `daily`/`weekly` campaigns run again: between runs they are `scheduled` with `nextRunAt`.
- `planned = sent + failed + skipped + cancelled + queued` at every step: `queued` counts what is
  still to be enqueued plus enqueued messages not yet sent, never a remainder.
"""

from __future__ import annotations

import math
import os
import sqlite3
from typing import TYPE_CHECKING, Any, Literal

from . import quotas
from .lifecycle import advance_message, insert_message, make_message
from .store import dumps, loads
from .templating import render
from .util import iso

if TYPE_CHECKING:
    from .app import Sandbox

Resolution = Literal["create", "start", "run"]
RESOLUTIONS: tuple[Resolution, ...] = ("create", "start", "run")
# inferred(campaign-resolution-time): §8.1's create example answers with zeroed stats, so recipients
# are resolved when the campaign starts; `create` and `run` stay selectable for the client's tests.
DEFAULT_RESOLUTION: Resolution = "start"
RESOLUTION_ENV = "MSGFLASH_SANDBOX_RESOLUTION"


def resolution_from_env() -> Resolution:
    """`MSGFLASH_SANDBOX_RESOLUTION` (create | start | run), else the default; a typo fails loudly."""
    value = os.environ.get(RESOLUTION_ENV, "").strip().lower() or DEFAULT_RESOLUTION
    for known in RESOLUTIONS:
        if value == known:
            return known
    raise ValueError(f"{RESOLUTION_ENV}={value!r}: expected one of {', '.join(RESOLUTIONS)}")


CAMPAIGN_PACE = 2.0  # recipients enqueued per second
# inferred(campaign-repeat-period): a daily/weekly run starts one day/week after the previous run's start.
REPEAT_EVERY = {"daily": 86_400.0, "weekly": 7 * 86_400.0}
BUTTONS_FIELDS = ("title", "description", "footer", "buttons")
# inferred(campaign-skipped): a recipient deleted before their send is neither sent nor failed; the
# sandbox counts it in `stats.skipped` with the reason in `stats.skippedReasons`.
CONTACT_DELETED = "CONTACT_DELETED"
# Statuses in which a campaign will still send (a repeating one is `scheduled` between runs).
PENDING = frozenset({"scheduled", "running", "paused"})


# ------------------------------------------------------------------------------------------- selection


def resolve(db: sqlite3.Connection, ws: str, selector: dict[str, Any]) -> list[str]:
    """Contact ids the selector reaches now, in creation order (unknown explicit ids dropped)."""
    kind = selector.get("type")
    if kind == "group":
        return [r["contact_id"] for r in db.execute(
            "SELECT m.contact_id FROM group_members m JOIN groups g ON g.id = m.group_id "
            "WHERE m.group_id = ? AND g.ws = ? ORDER BY m.rid", (selector.get("groupId"), ws))]
    rows = db.execute("SELECT id, data FROM contacts WHERE ws = ? ORDER BY rid", (ws,)).fetchall()
    if kind == "tags":
        # inferred(tag-match): tags match exactly (case-sensitive), as the contacts list filter stores them.
        wanted = set(selector.get("value") or [])
        return [r["id"] for r in rows if wanted & set(loads(r["data"]).get("tags") or [])]
    if kind == "explicit":
        known = {r["id"] for r in rows}
        return [cid for cid in dict.fromkeys(selector.get("value") or []) if cid in known]
    return [r["id"] for r in rows]


# ------------------------------------------------------------------------------------------- the document


def new_campaign(
    db: sqlite3.Connection, *, cid: str, ws: str, user_id: str, instance_id: str, name: str, content: dict[str, Any],
    schedule: float, repeat: str, recipients: dict[str, Any], variables: dict[str, Any] | None, created: float,
    resolution: Resolution,
) -> dict[str, Any]:
    """A scheduled campaign as stored. `content` holds templateId or type + body/mediaUrl (+ the buttons fields)."""
    camp: dict[str, Any] = {
        "id": cid, "userId": user_id, "instanceId": instance_id, "name": name,
        "templateId": content.get("templateId"), "type": content.get("type"), "body": content.get("body"),
        "mediaUrl": content.get("mediaUrl"),
        "schedule": iso(schedule), "repeat": repeat, "status": "scheduled",
        "recipients": recipients, "templateVariables": variables,
        # Only the timestamps are stored: the counters are computed (campaign_stats), never a stale copy.
        "stats": {"processingStartedAt": None, "lastEnqueuedAt": None, "completedAt": None, "cancelledAt": None},
        "createdAt": iso(created), "updatedAt": iso(created),
        "_ws": ws, "_mode": resolution, "_schedule": schedule, "_frozen": None, "_recipients": [], "_resolved": False,
        "_enq": 0, "_anchor": schedule, "_anchor_n": 0, "_base_planned": 0, "_base_enq": 0, "_skipped": 0,
    }
    if content.get("type") == "buttons":  # the reference's own field names (§8.1), echoed as sent
        camp.update({k: content.get(k) for k in BUTTONS_FIELDS})
    if repeat in REPEAT_EVERY:
        camp["nextRunAt"] = iso(schedule)
    if resolution == "create":
        _resolve_run(db, camp)
    return camp


def adopt(camp: dict[str, Any]) -> dict[str, Any]:
    """A campaign stored by an older sandbox (a kept sandbox.sqlite3): it was frozen at creation."""
    if "_mode" not in camp:
        camp.update(_mode="create", _frozen=camp.get("_recipients", []), _resolved=True, _base_planned=0,
                    _base_enq=0, _skipped=0)
        camp["stats"].pop("planned", None)
    return camp


def _resolve_run(db: sqlite3.Connection, camp: dict[str, Any]) -> None:
    """Fix the recipients of the run about to start (or of every run, once frozen)."""
    if camp["_resolved"]:
        return
    ids = camp["_frozen"] if camp["_frozen"] is not None else resolve(db, camp["_ws"], camp["recipients"])
    if camp["_mode"] != "run":
        camp["_frozen"] = ids
    camp["_recipients"] = ids
    camp["_resolved"] = True


def start_run(db: sqlite3.Connection, camp: dict[str, Any], at: float) -> None:
    """The campaign starts (or resumes) sending at `at`."""
    _resolve_run(db, camp)
    camp["status"] = "running"
    camp["_anchor"] = at
    camp["_anchor_n"] = camp["_enq"]
    camp["stats"]["processingStartedAt"] = camp["stats"].get("processingStartedAt") or iso(at)
    camp["updatedAt"] = iso(at)
    if "nextRunAt" in camp:
        camp["nextRunAt"] = iso(camp["_schedule"] + REPEAT_EVERY[camp["repeat"]])


def pause(camp: dict[str, Any], at: float) -> None:
    camp["status"] = "paused"
    camp["updatedAt"] = iso(at)
    if "nextRunAt" in camp:
        camp["nextRunAt"] = None  # inferred(campaign-repeat-status): a paused repeat has no next run


def resume(db: sqlite3.Connection, camp: dict[str, Any], at: float) -> None:
    adopt(camp)
    if at < camp["_schedule"]:
        camp["status"] = "scheduled"  # resumed before its (next) start: it waits for the schedule again
        camp["updatedAt"] = iso(at)
        if "nextRunAt" in camp:
            camp["nextRunAt"] = iso(camp["_schedule"])
    else:
        start_run(db, camp, at)


# ------------------------------------------------------------------------------------------- stats


def campaign_stats(db: sqlite3.Connection, camp: dict[str, Any], full: bool = True) -> dict[str, Any]:
    adopt(camp)
    counts: dict[str, int] = {}
    for row in db.execute("SELECT status, count(*) AS n FROM messages WHERE campaign_id = ? GROUP BY status", (camp["id"],)):
        counts[row["status"]] = row["n"]
    planned = camp["_base_planned"] + (len(camp["_recipients"]) if camp["_resolved"] else 0)
    enqueued = camp["_base_enq"] + camp["_enq"]
    read = counts.get("read", 0)
    delivered = counts.get("delivered", 0) + read
    sent = counts.get("sent", 0) + delivered
    not_enqueued = planned - enqueued
    cancelled = counts.get("cancelled", 0) + (not_enqueued if camp["status"] == "cancelled" else 0)
    stats: dict[str, Any] = {
        "planned": planned,
        "queued": counts.get("queued", 0) + (0 if camp["status"] == "cancelled" else not_enqueued),
        "sent": sent,
        "delivered": delivered,
        "read": read,
        "failed": counts.get("failed", 0),
        "skipped": camp["_skipped"],
        "cancelled": cancelled,
    }
    if full:
        stats["skippedReasons"] = {CONTACT_DELETED: camp["_skipped"]} if camp["_skipped"] else {}
        for k in ("processingStartedAt", "lastEnqueuedAt", "completedAt", "cancelledAt"):
            stats[k] = camp["stats"].get(k)
    return stats


# ------------------------------------------------------------------------------------------- lifecycle


def campaign_next_at(camp: dict[str, Any]) -> float | None:
    if camp["status"] == "scheduled":
        return camp["_schedule"]
    if camp["status"] == "running":
        return camp["_anchor"] + (camp["_enq"] - camp["_anchor_n"]) / CAMPAIGN_PACE
    return None


def _content_for(db: sqlite3.Connection, camp: dict[str, Any], contact: dict[str, Any], instance: dict[str, Any],
                 tmpl: dict[str, Any] | None) -> tuple[str, str | None, str | None, dict[str, Any] | None,
                                                       dict[str, str] | None]:
    """(type, body, mediaUrl, extra content, error) of one recipient's message."""
    if camp.get("templateId"):
        if tmpl is None:  # unreachable through the API (DELETE refuses a template in use); never a blank send
            return "text", None, None, None, {"code": "TEMPLATE_INVALID", "message": "The campaign's template no longer exists"}
        rendered, missing = render(tmpl.get("body") or "", db, contact=contact, instance=instance,
                                   user_id=camp["userId"], variables=camp.get("templateVariables") or {})
        error = {"code": "TEMPLATE_VARIABLES_MISSING", "message": "Missing: " + ", ".join(missing)} if missing else None
        return tmpl["type"], rendered, tmpl.get("mediaUrl"), {"templateId": tmpl["id"]}, error
    mtype = camp.get("type") or "text"
    if mtype == "buttons":
        return mtype, camp.get("description"), None, {k: camp.get(k) for k in BUTTONS_FIELDS}, None
    return mtype, camp.get("body"), camp.get("mediaUrl"), None, None


def _enqueue(sb: Sandbox, db: sqlite3.Connection, camp: dict[str, Any], now: float) -> None:
    recipients: list[str] = camp["_recipients"]
    due = min(len(recipients), camp["_anchor_n"] + math.floor((now - camp["_anchor"]) * CAMPAIGN_PACE) + 1)
    if camp["_enq"] >= due:
        return
    inst_row = db.execute("SELECT data FROM instances WHERE id = ?", (camp["instanceId"],)).fetchone()
    instance = loads(inst_row["data"]) if inst_row else {"id": camp["instanceId"], "status": "disconnected"}
    tmpl = None
    if camp.get("templateId"):
        row = db.execute("SELECT data FROM templates WHERE id = ?", (camp["templateId"],)).fetchone()
        tmpl = loads(row["data"]) if row else None
    while camp["_enq"] < due:
        i = camp["_enq"]
        at = camp["_anchor"] + (i - camp["_anchor_n"]) / CAMPAIGN_PACE
        camp["_enq"] = i + 1
        camp["stats"]["lastEnqueuedAt"] = iso(at)
        camp["updatedAt"] = iso(at)
        crow = db.execute("SELECT data FROM contacts WHERE id = ?", (recipients[i],)).fetchone()
        if crow is None:  # deleted since the run's recipients were resolved
            camp["_skipped"] += 1
            continue
        contact = loads(crow["data"])
        mtype, body, media, extra, error = _content_for(db, camp, contact, instance, tmpl)
        if error is None and quotas.outbound_left(db, camp["userId"], at) <= 0:
            error = {"code": "MONTHLY_OUTBOUND_QUOTA_EXCEEDED", "message": "Monthly outbound quota exceeded"}
        if error is None:
            quotas.bump(db, camp["userId"], at, "messages")
        msg = make_message(ws=camp["_ws"], user_id=camp["userId"], instance=instance, to=contact["phone"], mtype=mtype,
                           body=body, media_url=media, contact_id=contact["id"], campaign_id=camp["id"],
                           created=at, t0=at, error=error, extra=extra)
        advance_message(sb, db, msg, now)
        insert_message(db, msg)


def _end_run(camp: dict[str, Any], now: float) -> None:
    """The run sent to everyone: the campaign completes, or waits for its next run."""
    ended = camp["stats"].get("lastEnqueuedAt") or iso(now)
    every = REPEAT_EVERY.get(camp["repeat"])
    if every is None:
        camp["status"] = "completed"  # inferred(campaign-completed-status): §19.2 infers `completed`
        camp["stats"]["completedAt"] = ended
        camp["updatedAt"] = ended
        return
    # inferred(campaign-repeat-status): between runs a repeating campaign is `scheduled` again, with
    # `nextRunAt`; `completedAt` stays null (it never completes, it is paused).
    camp["_base_planned"] += len(camp["_recipients"])
    camp["_base_enq"] += camp["_enq"]
    camp["_recipients"], camp["_resolved"], camp["_enq"], camp["_anchor_n"] = [], False, 0, 0
    camp["_schedule"] += every
    camp["status"] = "scheduled"
    camp["nextRunAt"] = iso(camp["_schedule"])
    camp["updatedAt"] = ended


def advance_campaign(sb: Sandbox, db: sqlite3.Connection, camp: dict[str, Any], now: float) -> None:
    """Every run step due by `now`: starts, sends, ends, and the runs of a repeat a clock jump passed."""
    adopt(camp)
    while True:
        if camp["status"] == "scheduled":
            if now < camp["_schedule"]:
                return
            start_run(db, camp, camp["_schedule"])
        if camp["status"] != "running":
            return
        _enqueue(sb, db, camp, now)
        if camp["_enq"] < len(camp["_recipients"]):
            return
        _end_run(camp, now)


def save_campaign(db: sqlite3.Connection, camp: dict[str, Any]) -> float | None:
    nxt = campaign_next_at(camp)
    db.execute("UPDATE campaigns SET status = ?, next_at = ?, data = ? WHERE id = ?",
               (camp["status"], nxt, dumps(camp), camp["id"]))
    return nxt


def insert_campaign(db: sqlite3.Connection, camp: dict[str, Any]) -> float | None:
    nxt = campaign_next_at(camp)
    db.execute("INSERT INTO campaigns (id, ws, status, next_at, data) VALUES (?, ?, ?, ?, ?)",
               (camp["id"], camp["_ws"], camp["status"], nxt, dumps(camp)))
    return nxt


def uses_template(db: sqlite3.Connection, ws: str, template_id: str) -> list[str]:
    """Ids of this workspace's pending campaigns that render `template_id`."""
    marks = ", ".join("?" * len(PENDING))
    rows = db.execute(f"SELECT id FROM campaigns WHERE ws = ? AND status IN ({marks}) "
                      "AND json_extract(data, '$.templateId') = ? ORDER BY rid", (ws, *sorted(PENDING), template_id))
    return [r["id"] for r in rows]
