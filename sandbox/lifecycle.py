"""Lazy, clock-driven lifecycles (no background threads).  Every request first calls `tick(now)`,
which applies the transitions that became due since the last call: message statuses, scheduled
messages leaving, recipients replying (rules in `replies`), campaign recipients being enqueued,
bulk jobs and number lookups progressing (campaign runs: `campaign_runs`).
Each row carries `next_at` (epoch seconds of its next transition, indexed), and the sandbox caches
the global minimum so an idle tick costs nothing."""

from __future__ import annotations

import hashlib
import hmac
import math
import sqlite3
from typing import TYPE_CHECKING, Any

from . import quotas, replies
from .store import dumps, loads
from .util import e164, iso, new_id, provider_id

if TYPE_CHECKING:
    from .app import Sandbox

SENT_AFTER = 2.0
DELIVERED_AFTER = 5.0
READ_AFTER = 30.0
JOB_PACE = 50.0  # bulk-job ids processed per second
LOOKUP_PACE = 50.0  # numbers checked per second
FAIL_SUFFIX = "13"  # recipients whose number ends with this fail deterministically


def failure_for(to: str, instance: dict[str, Any]) -> dict[str, str] | None:
    if instance.get("status") != "connected":
        # inferred(instance-disconnected-code): not in §18; a send from a disconnected number fails with it.
        return {"code": "INSTANCE_DISCONNECTED", "message": "The sending instance is not connected"}
    if to.endswith(FAIL_SUFFIX):
        return {"code": "PROVIDER_ERROR", "message": "Recipient could not be reached on WhatsApp"}
    return None


def safety_for(instance: dict[str, Any]) -> dict[str, Any]:
    """Deterministic warm-up/safety guidance derived from the instance (shape of REFERENCE §8.4)."""
    meta = instance.get("_health") or {}
    if instance.get("status") != "connected":
        return {
            "decision": "block",
            "riskLevel": "high",
            "state": "warming",
            "score": 0,
            "reasons": ["Instance is not connected"],
            "recommendations": ["Reconnect the number from the dashboard before sending"],
        }
    if meta.get("state") == "warming":
        return {
            "decision": "warn",
            "riskLevel": "medium",
            "state": "warming",
            "score": 56,
            "reasons": ["Number is still warming up"],
            "recommendations": ["Keep volumes low for a few more days", "Prefer contacts who opted in"],
        }
    return {"decision": "allow", "riskLevel": "low", "state": "stable", "score": 72, "reasons": [], "recommendations": []}


def worker_safety(instance: dict[str, Any]) -> dict[str, Any]:
    s = safety_for(instance)
    return {k: s[k] for k in ("decision", "riskLevel", "state", "score")}


# ------------------------------------------------------------------------------------------- messages


def make_message(
    *,
    ws: str,
    user_id: str,
    instance: dict[str, Any],
    to: str,
    mtype: str,
    body: str | None,
    media_url: str | None,
    contact_id: str | None,
    campaign_id: str | None,
    created: float,
    t0: float,
    scheduled_at: float | None = None,
    extra: dict[str, Any] | None = None,
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    mid = new_id()
    msg: dict[str, Any] = {
        "id": mid,
        "userId": user_id,
        "instanceId": instance["id"],
        "contactId": contact_id,
        "campaignId": campaign_id,
        "direction": "outbound",
        "type": mtype,
        "from": None,
        "to": to,
        "body": body,
        "mediaUrl": media_url,
        "status": "scheduled" if scheduled_at is not None else "queued",
        "error": None,
        "meta": {"providerResult": {}, "workerSafety": worker_safety(instance)},
        "providerMessageId": None,
        "scheduledAt": iso(scheduled_at),
        "createdAt": iso(created),
        "updatedAt": iso(created),
        "_ws": ws,
        "_t0": t0,
        "_fail": error if error is not None else failure_for(to, instance),
    }
    if not msg["_fail"]:
        reply = replies.plan(to, body, t0 + DELIVERED_AFTER)
        msg["_reply_at"], msg["_reply_text"] = reply if reply else (None, None)
    if extra:
        msg["meta"]["content"] = extra
    return msg


def _message_steps(msg: dict[str, Any]) -> list[tuple[float, str]]:
    t0 = msg["_t0"]
    if msg.get("_fail"):
        return [(t0 + SENT_AFTER, "failed")]
    return [(t0 + SENT_AFTER, "sent"), (t0 + DELIVERED_AFTER, "delivered"), (t0 + READ_AFTER, "read")]


def message_next_at(msg: dict[str, Any]) -> float | None:
    """The earliest of the message's next status change and its pending reply."""
    reply_at: float | None = msg.get("_reply_at")
    if msg["status"] == "scheduled":
        return msg["_t0"]
    for at, status in _message_steps(msg):
        if _rank(status) > _rank(msg["status"]):
            return at if reply_at is None else min(at, reply_at)
    return reply_at


_RANKS = {"scheduled": 0, "queued": 1, "sent": 2, "delivered": 3, "read": 4, "failed": 5, "cancelled": 5, "received": 5}


def _rank(status: str) -> int:
    return _RANKS.get(status, 9)


def insert_message(db: sqlite3.Connection, msg: dict[str, Any]) -> float | None:
    nxt = message_next_at(msg)
    db.execute(
        "INSERT INTO messages (id, ws, instance_id, campaign_id, status, next_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (msg["id"], _ws_of(msg), msg["instanceId"], msg["campaignId"], msg["status"], nxt, dumps(msg)),
    )
    return nxt


def _ws_of(msg: dict[str, Any]) -> str:
    return msg["_ws"]


def advance_message(sb: Sandbox, db: sqlite3.Connection, msg: dict[str, Any], now: float) -> None:
    """Apply every transition of one message due at `now`, emitting webhook events."""
    if msg["status"] == "scheduled":
        if now < msg["_t0"]:
            return
        # The outbound quota is re-checked when a scheduled message actually leaves (REFERENCE §4.2).
        if quotas.outbound_left(db, msg["userId"], msg["_t0"]) <= 0:
            msg["_fail"] = {"code": "MONTHLY_OUTBOUND_QUOTA_EXCEEDED", "message": "Monthly outbound quota exceeded"}
        else:
            quotas.bump(db, msg["userId"], msg["_t0"], "messages")
        msg["status"] = "queued"
        msg["updatedAt"] = iso(msg["_t0"])
    for at, status in _message_steps(msg):
        if at > now or _rank(status) <= _rank(msg["status"]):
            continue
        msg["status"] = status
        msg["updatedAt"] = iso(at)
        if status == "sent":
            msg["providerMessageId"] = provider_id(msg["id"])
            msg["meta"]["providerResult"] = {"key": {"id": msg["providerMessageId"]}, "status": "PENDING"}
        if status == "failed":
            msg["error"] = msg["_fail"]
        emit(sb, db, msg["_ws"], "message." + status, _message_payload(msg, at))


def arrive_reply(sb: Sandbox, db: sqlite3.Connection, msg: dict[str, Any], now: float) -> None:
    """Store the recipient's reply to `msg` once it is due (after `advance_message` ran to `now`)."""
    at: float | None = msg.get("_reply_at")
    if at is None or at > now:
        return
    msg["_reply_at"] = None
    if msg["status"] not in ("delivered", "read"):  # failed or cancelled since: nobody saw it
        return
    row = db.execute("SELECT data FROM instances WHERE id = ?", (msg["instanceId"],)).fetchone()
    instance = loads(row["data"]) if row else {"id": msg["instanceId"]}
    receive_text(sb, db, ws=msg["_ws"], user_id=msg["userId"], instance=instance, sender=msg["to"],
                 body=msg.get("_reply_text") or "", at=at, msg_id=replies.reply_id(msg["id"]), in_reply_to=msg["id"])


def receive_text(
    sb: Sandbox,
    db: sqlite3.Connection,
    *,
    ws: str,
    user_id: str,
    instance: dict[str, Any],
    sender: str,
    body: str,
    at: float,
    msg_id: str | None = None,
    in_reply_to: str | None = None,
) -> dict[str, Any]:
    """Store a text someone sent to `instance` and emit its `message.received` event."""
    contact = db.execute("SELECT id FROM contacts WHERE ws = ? AND phone = ?", (ws, sender)).fetchone()
    inbound = replies.inbound_message(
        msg_id=msg_id or new_id(), ws=ws, user_id=user_id, instance=instance, sender=sender, body=body,
        contact_id=contact["id"] if contact else None, at=at, in_reply_to=in_reply_to,
    )
    insert_message(db, inbound)
    emit(sb, db, ws, "message.received", replies.received_payload(inbound))
    return inbound


def _message_payload(msg: dict[str, Any], at: float) -> dict[str, Any]:
    # inferred(event-extra-keys): §13.5 shows event..status then "..."; campaignId, error, timestamp are ours.
    return {
        "event": "message." + msg["status"],
        "instanceId": msg["instanceId"],
        "messageId": msg["id"],
        "providerMessageId": msg["providerMessageId"],
        "to": msg["to"],
        "status": msg["status"],
        "campaignId": msg["campaignId"],
        "error": msg["error"],
        "timestamp": iso(at),
    }


# ------------------------------------------------------------------------------------------- webhooks


def sign(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def emit(sb: Sandbox, db: sqlite3.Connection, ws: str, event: str, payload: dict[str, Any]) -> None:
    """Record one signed delivery per subscribed, active webhook of the workspace in the outbox."""
    for row in db.execute("SELECT data FROM webhooks WHERE ws = ?", (ws,)):
        hook = loads(row["data"])
        if not hook.get("active", True) or event not in hook["events"]:
            continue
        raw = dumps(payload).encode()
        sb.outbox.append(
            {
                "id": new_id(),
                "webhookId": hook["id"],
                "url": hook["url"],
                "method": "POST",
                "event": event,
                "headers": {
                    "Content-Type": "application/json",
                    "X-MsgFlash-Event": event,
                    "X-MsgFlash-Signature": sign(hook["_secret"], raw),
                },
                "body": raw.decode(),
                "payload": payload,
                "createdAt": payload.get("timestamp"),
            }
        )


# ------------------------------------------------------------------------------------------- contacts/groups ops


def delete_contact(db: sqlite3.Connection, ws: str, contact_id: str) -> bool:
    cur = db.execute("DELETE FROM contacts WHERE id = ? AND ws = ?", (contact_id, ws))
    if cur.rowcount:
        db.execute("DELETE FROM group_members WHERE contact_id = ?", (contact_id,))
        return True
    return False


def add_member(db: sqlite3.Connection, ws: str, group_id: str, contact_id: str, now: float) -> str:
    if db.execute("SELECT 1 FROM contacts WHERE id = ? AND ws = ?", (contact_id, ws)).fetchone() is None:
        return "notFound"
    cur = db.execute("INSERT OR IGNORE INTO group_members (group_id, contact_id, added_at) VALUES (?, ?, ?)",
                     (group_id, contact_id, iso(now)))
    return "added" if cur.rowcount else "alreadyInGroup"


def remove_member(db: sqlite3.Connection, group_id: str, contact_id: str) -> str:
    cur = db.execute("DELETE FROM group_members WHERE group_id = ? AND contact_id = ?", (group_id, contact_id))
    return "removed" if cur.rowcount else "notInGroup"


# ------------------------------------------------------------------------------------------- bulk jobs

JOB_SUMMARY_KEYS = {
    "bulk_delete_contacts": ("deleted", "notFound"),
    "add_to_group": ("added", "alreadyInGroup", "notFound"),
    "remove_from_group": ("removed", "notInGroup"),
}


def job_next_at(job: dict[str, Any]) -> float | None:
    if job["status"] in ("pending", "processing"):
        return job["_t0"] + (job["processedCount"] + 1) / JOB_PACE
    return None


def advance_job(db: sqlite3.Connection, job: dict[str, Any], now: float) -> None:
    if job["status"] not in ("pending", "processing"):
        return
    ids: list[str] = job["_ids"]
    target = min(len(ids), math.floor((now - job["_t0"]) * JOB_PACE))
    if target <= job["processedCount"]:
        return
    op = job["operation"]
    ws = job["_ws"]
    group_ok = op == "bulk_delete_contacts" or db.execute(
        "SELECT 1 FROM groups WHERE id = ?", (job.get("groupId"),)).fetchone() is not None
    if not group_ok:
        job["status"] = "failed"
        job["error"] = {"code": "NOT_FOUND", "message": "Group not found"}
        job["completedAt"] = job["updatedAt"] = iso(now)
        return
    at = job["_t0"] + target / JOB_PACE
    for cid in ids[job["processedCount"]:target]:
        if op == "bulk_delete_contacts":
            outcome = "deleted" if delete_contact(db, ws, cid) else "notFound"
        elif op == "add_to_group":
            outcome = add_member(db, ws, job["groupId"], cid, at)
        else:
            outcome = remove_member(db, job["groupId"], cid)
        job["summary"][outcome] = job["summary"].get(outcome, 0) + 1
    job["processedCount"] = target
    job["progress"] = math.floor(100 * target / len(ids))
    job["status"] = "processing"
    job["updatedAt"] = iso(at)
    if target >= len(ids):
        job["status"] = "done"
        job["progress"] = 100
        job["completedAt"] = iso(at)


def save_job(db: sqlite3.Connection, job: dict[str, Any]) -> float | None:
    nxt = job_next_at(job)
    db.execute("UPDATE jobs SET status = ?, next_at = ?, data = ? WHERE id = ?", (job["status"], nxt, dumps(job), job["id"]))
    return nxt


# ------------------------------------------------------------------------------------------- number lookups


def on_whatsapp(number: str) -> bool:
    """Deterministic rule: a valid number is on WhatsApp when its last digit is even."""
    return int(number[-1]) % 2 == 0


def normalize_numbers(numbers: list[str]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    valid: list[dict[str, str]] = []
    bad: list[dict[str, str]] = []
    for raw in numbers:
        candidate = raw.strip() if isinstance(raw, str) else ""
        if candidate and not candidate.startswith("+") and candidate.isdigit():
            candidate = "+" + candidate  # "international format" without the plus is accepted
        num = e164(candidate)
        if num is None:
            bad.append({"input": raw, "reason": "Invalid phone number"})
        else:
            valid.append({"input": raw, "number": num})
    return valid, bad


def check_batch(lookup: dict[str, Any], items: list[dict[str, str]]) -> None:
    for item in items:
        if on_whatsapp(item["number"]):
            lookup["result"]["onWhatsApp"].append({**item, "jid": item["number"][1:] + "@s.whatsapp.net"})
            lookup["onWhatsAppCount"] += 1
        else:
            lookup["result"]["notOnWhatsApp"].append(item)
            lookup["notOnWhatsAppCount"] += 1
        lookup["checkedCount"] += 1


def lookup_next_at(lk: dict[str, Any]) -> float | None:
    if lk["status"] in ("pending", "processing"):
        return lk["_t0"] + (lk["checkedCount"] + 1) / LOOKUP_PACE
    return None


def advance_lookup(db: sqlite3.Connection, lk: dict[str, Any], now: float) -> None:
    if lk["status"] not in ("pending", "processing"):
        return
    todo: list[dict[str, str]] = lk["_valid"]
    target = min(len(todo), math.floor((now - lk["_t0"]) * LOOKUP_PACE))
    if target <= lk["checkedCount"] and todo:
        return
    check_batch(lk, todo[lk["checkedCount"]:target])
    at = lk["_t0"] + target / LOOKUP_PACE
    lk["status"] = "processing"
    lk["progress"] = math.floor(100 * target / len(todo)) if todo else 100
    lk["updatedAt"] = iso(at)
    if target >= len(todo):
        lk["status"] = "done"
        lk["progress"] = 100
        lk["completedAt"] = iso(at)


def save_lookup(db: sqlite3.Connection, lk: dict[str, Any]) -> float | None:
    nxt = lookup_next_at(lk)
    db.execute("UPDATE lookups SET status = ?, next_at = ?, data = ? WHERE id = ?", (lk["status"], nxt, dumps(lk), lk["id"]))
    return nxt


# ------------------------------------------------------------------------------------------- tick


def tick(sb: Sandbox, db: sqlite3.Connection, now: float) -> None:
    if now < sb.next_due:
        return
    from .campaign_runs import advance_campaign, save_campaign  # local import: campaign_runs builds on this module

    for row in db.execute("SELECT data FROM campaigns WHERE next_at <= ? ORDER BY next_at", (now,)).fetchall():
        camp = loads(row["data"])
        advance_campaign(sb, db, camp, now)
        save_campaign(db, camp)
    for row in db.execute("SELECT data FROM messages WHERE next_at <= ? ORDER BY next_at", (now,)).fetchall():
        msg = loads(row["data"])
        advance_message(sb, db, msg, now)
        arrive_reply(sb, db, msg, now)
        db.execute("UPDATE messages SET status = ?, next_at = ?, data = ? WHERE id = ?",
                   (msg["status"], message_next_at(msg), dumps(msg), msg["id"]))
    for row in db.execute("SELECT data FROM jobs WHERE next_at <= ?", (now,)).fetchall():
        job = loads(row["data"])
        advance_job(db, job, now)
        save_job(db, job)
    for row in db.execute("SELECT data FROM lookups WHERE next_at <= ?", (now,)).fetchall():
        lk = loads(row["data"])
        advance_lookup(db, lk, now)
        save_lookup(db, lk)
    sb.next_due = next_due(db)


def next_due(db: sqlite3.Connection) -> float:
    best = math.inf
    for table in ("campaigns", "messages", "jobs", "lookups"):
        v = db.execute(f"SELECT min(next_at) FROM {table} WHERE next_at IS NOT NULL").fetchone()[0]
        if v is not None and v < best:
            best = v
    return best
