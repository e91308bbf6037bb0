"""Number lookups: < 100 numbers answered synchronously, >= 100 processed lazily (LOOKUP_PACE/s)."""

from __future__ import annotations

from typing import Any

from .. import quotas
from .. import seed as S
from ..errors import ApiError, invalid
from ..lifecycle import advance_lookup, check_batch, lookup_next_at, normalize_numbers, save_lookup
from ..store import Ctx, dumps, loads
from ..util import F, iso, new_id, public, validate
from .base import MISSING, UNKNOWN, Call, Made, Req, RouteSpec, route
from .contacts import create_contact

ROUTES: list[RouteSpec] = []
ASYNC_THRESHOLD = 100
SPEC = {"instanceId": F("uuid", required=True), "numbers": F("string[]", required=True, min_items=1, max_items=10_000)}


def _progress(lk: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "status", "progress", "requestedCount", "normalizedCount", "checkedCount", "onWhatsAppCount",
            "notOnWhatsAppCount", "invalidCount", "error", "createdAt", "updatedAt", "completedAt")
    return {k: lk.get(k) for k in keys}


def _full(lk: dict[str, Any]) -> dict[str, Any]:
    out = _progress(lk)
    out.update(instanceId=lk["instanceId"], mode=lk["mode"], result=lk["result"])
    return out


# For the contract test: a lookup of ASYNC_THRESHOLD numbers, processed lazily, to read, cancel and import.
PC = S.PERSONAL_CONNECTED_INSTANCE_ID
LOOKUP = Call(id=Made("lookupId"), first=(
    Req("POST", "/number-lookups", {"instanceId": PC, "numbers": [f"+336123451{i:02d}" for i in range(100)]}),))
ONE = ["+33612345678"]


@route(ROUTES, "POST", "/number-lookups", example=Call({"instanceId": PC, "numbers": ["+33612345678", "+33612345679"]}),
       errors={
           "VALIDATION_ERROR": Call({"instanceId": S.PERSONAL_DISCONNECTED_INSTANCE_ID, "numbers": ONE}),
           "NOT_FOUND": Call({"instanceId": MISSING, "numbers": ONE}),
           "PROVIDER_ERROR": Call({"instanceId": PC, "numbers": ONE}, fault=True),
       })
def create(ctx: Ctx) -> Any:
    body = validate(ctx.body, SPEC)
    quotas.require_feature(ctx.db, "numberLookups")
    instance = ctx.get("instances", body["instanceId"], "Instance")
    if instance["status"] != "connected":
        # Documented: "requires a connected instance"; the code for it is our choice.
        raise invalid([{"field": "instanceId", "message": "The instance must be connected"}], "Instance is not connected")
    valid, bad = normalize_numbers(body["numbers"])
    mode = "async" if len(body["numbers"]) >= ASYNC_THRESHOLD else "sync"
    lk: dict[str, Any] = {
        "id": new_id(), "instanceId": instance["id"], "mode": mode, "status": "pending", "progress": 0,
        "requestedCount": len(body["numbers"]), "normalizedCount": len(valid), "checkedCount": 0,
        "onWhatsAppCount": 0, "notOnWhatsAppCount": 0, "invalidCount": len(bad), "error": None,
        "result": {"onWhatsApp": [], "notOnWhatsApp": [], "invalid": bad},
        "createdAt": iso(ctx.now), "updatedAt": iso(ctx.now), "completedAt": None,
        "_ws": ctx.ws, "_t0": ctx.now, "_valid": valid,
    }
    if mode == "sync":
        check_batch(lk, valid)
        lk.update(status="done", progress=100, completedAt=iso(ctx.now))
    ctx.db.execute("INSERT INTO lookups (id, ws, status, next_at, data) VALUES (?, ?, ?, ?, ?)",
                   (lk["id"], ctx.ws, lk["status"], lookup_next_at(lk), dumps(lk)))
    ctx.wake(lookup_next_at(lk))
    ctx.created_id = lk["id"]
    if mode == "async":
        return 202, {"mode": "async", "lookupId": lk["id"], "status": "pending", "requested": lk["requestedCount"],
                     "message": "Lookup in progress. Check status later."}
    return {"mode": "sync", "lookupId": lk["id"], "status": "done", "requested": lk["requestedCount"],
            "normalized": lk["normalizedCount"], "checked": lk["checkedCount"], "onWhatsAppCount": lk["onWhatsAppCount"],
            "notOnWhatsAppCount": lk["notOnWhatsAppCount"], "invalidCount": lk["invalidCount"], "result": lk["result"]}


@route(ROUTES, "GET", "/number-lookups", example=Call(first=LOOKUP.first))
def list_lookups(ctx: Ctx) -> list[dict[str, Any]]:
    # Params/shape not documented: a simple newest-first list of progress objects (max 100).
    rows = ctx.db.execute("SELECT data FROM lookups WHERE ws = ? ORDER BY rid DESC LIMIT 100", (ctx.ws,))
    return [{**_progress(loads(r["data"])), "mode": loads(r["data"])["mode"]} for r in rows]


@route(ROUTES, "GET", "/number-lookups/{id}", example=LOOKUP, errors={"NOT_FOUND": UNKNOWN})
def get_lookup(ctx: Ctx, id: str) -> dict[str, Any]:
    return _full(ctx.get("lookups", id, "Lookup"))


@route(ROUTES, "GET", "/number-lookups/{id}/progress", example=LOOKUP, errors={"NOT_FOUND": UNKNOWN})
def progress(ctx: Ctx, id: str) -> dict[str, Any]:
    return _progress(ctx.get("lookups", id, "Lookup"))


@route(ROUTES, "POST", "/number-lookups/{id}/cancel", example=LOOKUP, errors={"NOT_FOUND": UNKNOWN})
def cancel(ctx: Ctx, id: str) -> dict[str, Any]:
    lk = ctx.get("lookups", id, "Lookup")
    advance_lookup(ctx.db, lk, ctx.now)
    if lk["status"] not in ("pending", "processing"):
        raise ApiError("BAD_REQUEST", f"Lookup is already {lk['status']}")
    lk["status"] = "cancelled"
    lk["completedAt"] = lk["updatedAt"] = iso(ctx.now)
    save_lookup(ctx.db, lk)
    return _progress(lk)


@route(ROUTES, "POST", "/number-lookups/{id}/import-contacts", example=Call({"tag": "verified-whatsapp"}, id=LOOKUP.id,
       first=LOOKUP.first), errors={"NOT_FOUND": Call({}, id=MISSING)})
def import_contacts(ctx: Ctx, id: str) -> dict[str, Any]:
    lk = ctx.get("lookups", id, "Lookup")
    body = validate(ctx.body, {"tag": F("string", min_len=1, max_len=50)})
    tags = [body["tag"]] if "tag" in body else []
    imported, existing = 0, 0
    # Imports what has been found so far (a running lookup imports its checked part).
    for item in lk["result"]["onWhatsApp"]:
        row = ctx.db.execute("SELECT data FROM contacts WHERE ws = ? AND phone = ?", (ctx.ws, item["number"])).fetchone()
        if row is None:
            create_contact(ctx, item["number"], item["number"], tags, {"source": "number-lookup"})
            imported += 1
        else:
            existing += 1
            c = loads(row["data"])
            if tags and tags[0] not in c["tags"]:
                c["tags"].append(tags[0])
                c["updatedAt"] = iso(ctx.now)
                ctx.save("contacts", c)
    return {"lookupId": lk["id"], "imported": imported, "alreadyExisting": existing,
            "skipped": lk["notOnWhatsAppCount"] + lk["invalidCount"], "tag": tags[0] if tags else None}


__all__ = ["public"]
