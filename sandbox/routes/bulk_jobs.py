"""Bulk jobs (async contact operations, >= 100 ids), processed lazily at JOB_PACE ids/second."""

from __future__ import annotations

import uuid
from typing import Any

from ..errors import ApiError, invalid
from ..lifecycle import JOB_SUMMARY_KEYS, advance_job, job_next_at, save_job
from ..store import Ctx, dumps, loads
from ..util import is_uuid, iso, new_id, public, query_int
from .base import UNKNOWN, Call, Made, Req, RouteSpec, route

ROUTES: list[RouteSpec] = []
ASYNC_THRESHOLD = 100


def start_job(ctx: Ctx, operation: str, ids: list[str], group_id: str | None) -> dict[str, Any]:
    job: dict[str, Any] = {
        "id": new_id(), "operation": operation, "status": "pending", "requestedCount": len(ids), "processedCount": 0,
        "progress": 0, "groupId": group_id, "summary": dict.fromkeys(JOB_SUMMARY_KEYS[operation], 0), "error": None,
        "createdAt": iso(ctx.now), "updatedAt": iso(ctx.now), "completedAt": None,
        "_ws": ctx.ws, "_t0": ctx.now, "_ids": ids,
    }
    ctx.db.execute("INSERT INTO jobs (id, ws, status, next_at, data) VALUES (?, ?, ?, ?, ?)",
                   (job["id"], ctx.ws, "pending", job_next_at(job), dumps(job)))
    ctx.wake(job_next_at(job))
    ctx.created_id = job["id"]
    out = {"mode": "async", "jobId": job["id"], "status": "pending", "operation": operation, "requestedCount": len(ids)}
    if group_id is not None:
        out["groupId"] = group_id
    out["progress"] = 0
    # The documented message points at the console path (doc quirk kept on purpose).
    out["message"] = f"Bulk operation queued. Check status via GET /api/contacts/bulk-jobs/{job['id']}"
    return out


def job_out(job: dict[str, Any], with_error: bool = True) -> dict[str, Any]:
    out = public(job)
    if not with_error:
        out.pop("error", None)
    return out


# The contract test's job: a bulk delete of ASYNC_THRESHOLD+ unknown ids runs as a job and changes nothing.
JOB = Call(id=Made("jobId"), first=(
    Req("POST", "/contacts/bulk-delete", {"contactIds": [str(uuid.UUID(int=i + 1000)) for i in range(120)]}),))


@route(ROUTES, "GET", "/contacts/bulk-jobs", example=Call(first=JOB.first))
def list_jobs(ctx: Ctx) -> dict[str, Any]:
    limit = query_int(ctx.query, "limit", 20, 100)
    sql, args = "SELECT rid, data FROM jobs WHERE ws = ?", [ctx.ws]
    cursor = ctx.query.get("cursor")
    if cursor:
        # Documented as a UUID: the id of the last job of the previous page.
        row = ctx.db.execute("SELECT rid FROM jobs WHERE id = ? AND ws = ?", (cursor, ctx.ws)).fetchone() if is_uuid(cursor) else None
        if row is None:
            raise invalid([{"field": "cursor", "message": "Invalid cursor"}])
        sql += " AND rid < ?"
        args.append(row["rid"])
    rows = ctx.db.execute(sql + " ORDER BY rid DESC LIMIT ?", [*args, limit + 1]).fetchall()
    has_more = len(rows) > limit
    jobs = [job_out(loads(r["data"]), with_error=False) for r in rows[:limit]]
    return {"jobs": jobs, "nextCursor": jobs[-1]["id"] if has_more else None, "hasMore": has_more}


@route(ROUTES, "GET", "/contacts/bulk-jobs/{jobId}", example=JOB, errors={"NOT_FOUND": UNKNOWN})
def get_job(ctx: Ctx, jobId: str) -> dict[str, Any]:
    return job_out(ctx.get("jobs", jobId, "Bulk job"))


@route(ROUTES, "GET", "/contacts/bulk-jobs/{jobId}/progress", example=JOB, errors={"NOT_FOUND": UNKNOWN})
def progress(ctx: Ctx, jobId: str) -> dict[str, Any]:
    return job_out(ctx.get("jobs", jobId, "Bulk job"))


@route(ROUTES, "POST", "/contacts/bulk-jobs/{jobId}/cancel", example=JOB,
       errors={"NOT_FOUND": UNKNOWN, "BAD_REQUEST": Call(id=JOB.id, first=JOB.first, clock=60)})  # finished by then
def cancel(ctx: Ctx, jobId: str) -> dict[str, Any]:
    job = ctx.get("jobs", jobId, "Bulk job")
    advance_job(ctx.db, job, ctx.now)
    if job["status"] not in ("pending", "processing"):
        raise ApiError("BAD_REQUEST", f"Bulk job is already {job['status']}")
    job["status"] = "cancelled"
    job["completedAt"] = job["updatedAt"] = iso(ctx.now)
    save_job(ctx.db, job)
    return job_out(job)
