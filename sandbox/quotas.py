"""Account state (plan, subscription), monthly usage and plan gates.  The sandbox has one user
(the personal key's owner) who also owns the team: team usage counts against the owner's plan."""

from __future__ import annotations

import calendar
import sqlite3
from datetime import UTC, datetime
from typing import Any

from .db import Connection
from .errors import ApiError
from .plans import PLANS
from .store import dumps, loads
from .util import iso


def account(db: sqlite3.Connection) -> dict[str, Any]:
    cached = getattr(db, "account_cache", None)
    if cached is not None:
        return dict(cached)
    row = db.execute("SELECT v FROM kv WHERE k = 'account'").fetchone()
    acct = loads(row["v"]) if row else {}
    if row is not None and isinstance(db, Connection):
        db.account_cache = acct
    return dict(acct)


def save_account(db: sqlite3.Connection, acct: dict[str, Any]) -> None:
    db.execute("INSERT OR REPLACE INTO kv (k, v) VALUES ('account', ?)", (dumps(acct),))
    if isinstance(db, Connection):
        db.account_cache = None  # re-read after commit (a rollback must not leave a stale cache)


def plan_code(db: sqlite3.Connection) -> str:
    code = account(db).get("plan", "pro")
    return code if code in PLANS else "pro"


def limits(db: sqlite3.Connection) -> dict[str, Any]:
    return PLANS[plan_code(db)]["limits"]


def features(db: sqlite3.Connection) -> dict[str, bool]:
    return PLANS[plan_code(db)]["features"]


def period_key(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m")


def period_bounds(now: float) -> dict[str, str | None]:
    dt = datetime.fromtimestamp(now, UTC)
    last = calendar.monthrange(dt.year, dt.month)[1]
    start = datetime(dt.year, dt.month, 1, tzinfo=UTC)
    end = datetime(dt.year, dt.month, last, 23, 59, 59, 999000, tzinfo=UTC)
    return {"start": iso(start), "end": iso(end)}


def usage(db: sqlite3.Connection, user_id: str, now: float) -> dict[str, int]:
    row = db.execute(
        "SELECT messages, statuses, api FROM usage WHERE user_id = ? AND period = ?", (user_id, period_key(now))
    ).fetchone()
    if row is None:
        return {"messages": 0, "statuses": 0, "api": 0}
    return {"messages": row["messages"], "statuses": row["statuses"], "api": row["api"]}


def bump(db: sqlite3.Connection, user_id: str, now: float, column: str, n: int = 1) -> None:
    assert column in ("messages", "statuses", "api")
    db.execute(
        f"INSERT INTO usage (user_id, period, {column}) VALUES (?, ?, ?) "
        f"ON CONFLICT (user_id, period) DO UPDATE SET {column} = {column} + excluded.{column}",
        (user_id, period_key(now), n),
    )


def set_usage(db: sqlite3.Connection, user_id: str, now: float, values: dict[str, int]) -> None:
    cur = usage(db, user_id, now)
    cur.update(values)
    db.execute(
        "INSERT OR REPLACE INTO usage (user_id, period, messages, statuses, api) VALUES (?, ?, ?, ?, ?)",
        (user_id, period_key(now), cur["messages"], cur["statuses"], cur["api"]),
    )


def check_api_quota(db: sqlite3.Connection, user_id: str, now: float) -> None:
    quota = limits(db)["monthlyApiRequestQuota"]
    if quota is not None and usage(db, user_id, now)["api"] >= quota:
        raise ApiError("MONTHLY_API_REQUEST_QUOTA_EXCEEDED", "Monthly API request quota exceeded")


def count_api_request(db: sqlite3.Connection, user_id: str, now: float) -> None:
    """Count one API request, refusing it (uncounted) when the monthly quota is used up."""
    quota = limits(db)["monthlyApiRequestQuota"]
    row = db.execute(
        "INSERT INTO usage (user_id, period, api) VALUES (?, ?, 1) "
        "ON CONFLICT (user_id, period) DO UPDATE SET api = api + 1 RETURNING api",
        (user_id, period_key(now)),
    ).fetchone()
    if quota is not None and row[0] > quota:
        bump(db, user_id, now, "api", -1)
        raise ApiError("MONTHLY_API_REQUEST_QUOTA_EXCEEDED", "Monthly API request quota exceeded")


def outbound_left(db: sqlite3.Connection, user_id: str, now: float) -> float:
    quota = limits(db)["monthlyOutboundQuota"]
    if quota is None:
        return float("inf")
    u = usage(db, user_id, now)
    return quota - (u["messages"] + u["statuses"])


def check_outbound(db: sqlite3.Connection, user_id: str, now: float) -> None:
    if outbound_left(db, user_id, now) <= 0:
        raise ApiError("MONTHLY_OUTBOUND_QUOTA_EXCEEDED", "Monthly outbound quota exceeded")


def check_subscription(db: sqlite3.Connection) -> None:
    if not account(db).get("subscriptionActive", True):
        raise ApiError("SUBSCRIPTION_INACTIVE", "No active subscription for this action")


GATE_CODES = {
    "campaigns": "CAMPAIGNS_NOT_AVAILABLE_ON_PLAN",
    "statuses": "STATUSES_NOT_AVAILABLE_ON_PLAN",
    "webhooks": "WEBHOOKS_NOT_AVAILABLE_ON_PLAN",
    "numberLookups": "FEATURE_NOT_AVAILABLE_ON_PLAN",
}


def require_feature(db: sqlite3.Connection, name: str) -> None:
    if not features(db).get(name, False):
        raise ApiError(GATE_CODES[name], f"Your plan does not include {name}")


def usage_block(db: sqlite3.Connection, user_id: str, now: float) -> dict[str, Any]:
    u = usage(db, user_id, now)
    active = db.execute(
        "SELECT count(*) FROM instances WHERE json_extract(data, '$.status') = 'connected'"
    ).fetchone()[0]
    return {
        "messagesCount": u["messages"],
        "statusesCount": u["statuses"],
        "effectiveOutboundUsage": u["messages"] + u["statuses"],
        "apiRequestsCount": u["api"],
        "activeInstancesCount": active,
        "activeApiKeysCount": 2,  # the fixed personal and team sandbox keys
    }
