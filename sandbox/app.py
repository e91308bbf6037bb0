"""The MsgFlash simulator: a Starlette app over one sqlite connection.

Request pipeline for `/api/v1/*` (see `Sandbox.run`): rate limit -> injected fault -> body size ->
lifecycle tick -> key/team rules -> route -> personal-only rule -> monthly API quota -> path ids ->
JSON body -> handler in one transaction.  Every request is written to the ledger."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import lifecycle, quotas
from .auth import authenticate, check_route, key_kind
from .campaign_runs import Resolution, resolution_from_env
from .clock import SandboxClock
from .db import Connection, connect, wipe
from .errors import ApiError
from .faults import FaultRule, Faults
from .ratelimit import RateLimiter, retry_after_header
from .routes import ALL_ROUTES, RouteSpec
from .seed import seed
from .store import Ctx
from .util import is_uuid

log = logging.getLogger("msgflash_mcp.sandbox")

MAX_BODY = 1024 * 1024
API_PREFIX = "/api/v1"


class DroppedConnection(Exception):
    """Raised by the app to simulate a dropped connection (fault "drop"/"drop_after_commit")."""


class ConnectFault(Exception):
    """Raised when a "connect_error" fault reaches the app (only without the in-process transport)."""


@dataclass
class SandboxConfig:
    db_path: str = ":memory:"  # file path persists across restarts
    rate_limit: float = 10.0  # requests/second per key; 0 disables
    rate_mode: Literal["gcra", "fixed"] = "gcra"
    burst: int = 10  # GCRA tolerance in requests (strict mode = 1)
    control: bool = True  # expose /_sandbox/*
    now: Callable[[], datetime] | None = None  # wall clock for lifecycles (UTC); default real time
    monotonic: Callable[[], float] | None = None  # for rate limiting; default time.monotonic
    # When a campaign's selector becomes its recipients (REFERENCE silent): campaign_runs.Resolution.
    resolution: Resolution = field(default_factory=resolution_from_env)


@dataclass
class _Compiled:
    spec: RouteSpec
    regex: re.Pattern[str]
    params: tuple[str, ...] = field(default_factory=tuple)


def _json(payload: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


class Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = SandboxClock(config.now)
        self.monotonic: Callable[[], float] = config.monotonic or time.monotonic
        self.db: sqlite3.Connection = connect(config.db_path)
        self.limiter = RateLimiter(config.rate_limit, config.rate_mode, config.burst, self.monotonic)
        self.faults = Faults()
        self.ledger: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.next_due = 0.0
        self._seq = 0
        self._static: dict[tuple[str, str], RouteSpec] = {}
        self._dynamic: list[_Compiled] = []
        for spec in ALL_ROUTES:
            if "{" not in spec.path:
                self._static[(spec.method, spec.path)] = spec
            else:
                pattern = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", spec.path) + "$"
                self._dynamic.append(_Compiled(spec, re.compile(pattern), tuple(re.findall(r"\{(\w+)\}", spec.path))))
        # most specific (fewest parameters) first
        self._dynamic.sort(key=lambda c: len(c.params))
        if self.db.execute("SELECT 1 FROM kv WHERE k = 'seeded'").fetchone() is None:
            seed(self, self.db, self.clock.timestamp())

    # ------------------------------------------------------------------ control helpers

    def reset(self) -> None:
        """Wipe and re-seed the data; clear faults, ledger, outbox and rate-limit state."""
        wipe(self.db)
        self.faults.clear()
        self.ledger.clear()
        self.outbox.clear()
        self.limiter.reset()
        self._seq = 0
        self.next_due = 0.0
        seed(self, self.db, self.clock.timestamp())

    def tick(self) -> None:
        self.next_due = 0.0
        self._tick(self.clock.timestamp())

    def _tick(self, now: float) -> None:
        if now < self.next_due:
            return
        self.db.execute("BEGIN")
        try:
            lifecycle.tick(self, self.db, now)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def match(self, method: str, path: str) -> tuple[RouteSpec, dict[str, str]]:
        spec = self._static.get((method, path))
        if spec is not None:
            return spec, {}
        for c in self._dynamic:
            if c.spec.method != method:
                continue
            m = c.regex.match(path)
            if m:
                return c.spec, m.groupdict()
        raise ApiError("NOT_FOUND", "Route not found")

    def _record(self, method: str, path: str, query: str, key: str | None, team: str | None) -> dict[str, Any]:
        self._seq += 1
        entry = {
            "seq": self._seq, "method": method, "path": path, "query": query, "status": None, "code": None,
            "key_kind": key_kind(key), "team_id": team, "time": self.monotonic(), "committed": False,
            "object_id": None, "fault": None,
        }
        self.ledger.append(entry)
        if len(self.ledger) > 200_000:  # bounded for long-running servers
            del self.ledger[:100_000]
        return entry

    # ------------------------------------------------------------------ the pipeline

    async def handle(self, request: Request) -> Response:
        method = request.method.upper()
        path = request.url.path
        headers = request.headers
        key = headers.get("x-api-key")
        team = headers.get("x-team-id")
        entry = self._record(method, path, request.url.query, key, team)

        retry = self.limiter.check(key or "")
        if retry is not None:
            entry.update(status=429, code="API_RATE_LIMIT_EXCEEDED")
            return _json({"error": {"code": "API_RATE_LIMIT_EXCEEDED", "message": "Too many API requests"}}, 429,
                         {"Retry-After": retry_after_header(retry)})

        fault: FaultRule | None = self.faults.take(method, path)
        if fault is not None:
            entry["fault"] = fault.action
            if fault.action == "status":
                err = fault.error()
                entry.update(status=err.status, code=err.code)
                return _json(err.envelope(), err.status, err.headers)
            if fault.action == "drop":
                raise DroppedConnection(path)
            if fault.action == "connect_error":
                raise ConnectFault(path)
            if fault.action == "delay" and not fault.after_commit:
                await anyio.sleep(fault.seconds)

        body = await request.body()
        status, payload, extra = self.run(method, path, dict(request.query_params), key, team, body, entry)
        entry.update(status=status, code=payload["error"]["code"] if "error" in payload else None)

        if fault is not None:
            if fault.action == "after_commit":
                err = fault.error()
                entry.update(status=err.status, code=err.code)
                return _json(err.envelope(), err.status, err.headers)
            if fault.action == "drop_after_commit":
                entry.update(status=None)
                raise DroppedConnection(path)
            if fault.action == "delay" and fault.after_commit:
                await anyio.sleep(fault.seconds)
        return _json(payload, status, extra)

    def run(
        self, method: str, path: str, query: dict[str, str], key: str | None, team: str | None, body: bytes,
        entry: dict[str, Any],
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        now = self.clock.timestamp()
        db = self.db
        try:
            if len(body) > MAX_BODY:
                raise ApiError("VALIDATION_ERROR", "Request body too large", status=413)
            self._tick(now)
            principal = authenticate(key, team)
            spec, params = self.match(method, path)
            check_route(principal, method, spec.path)
            quotas.count_api_request(db, principal.user_id, now)
            for value in params.values():
                if not is_uuid(value):
                    raise ApiError("NOT_FOUND", "Resource not found")
            parsed: Any = None
            if body.strip():
                try:
                    parsed = json.loads(body)
                except (ValueError, UnicodeDecodeError):
                    raise ApiError("VALIDATION_ERROR", "Malformed JSON body",
                                   [{"field": "body", "message": "Malformed JSON"}]) from None
            ctx = Ctx(self, db, principal.ws, principal.kind, principal.user_id, now, query, parsed)
            before = db.total_changes
            if method == "GET":  # read-only handlers
                result = spec.handler(ctx, **params)
            else:
                db.execute("BEGIN")
                try:
                    result = spec.handler(ctx, **params)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    if isinstance(db, Connection):
                        db.account_cache = None
                    raise
                if ctx.wake_at is not None:
                    self.next_due = min(self.next_due, ctx.wake_at)
            if db.total_changes > before:
                entry["committed"] = True
            entry["object_id"] = ctx.created_id
            if isinstance(result, tuple):
                status, data = result
            else:
                status, data = spec.status, result
            return status, {"data": data}, {}
        except ApiError as exc:
            return exc.status, exc.envelope(), exc.headers
        except Exception:  # never a traceback on the wire
            log.exception("sandbox handler crashed on %s %s", method, path)
            err = ApiError("INTERNAL_ERROR", "Internal server error")
            return err.status, err.envelope(), {}


async def _api(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    return await sandbox.handle(request)


async def _not_found(request: Request) -> Response:
    return _json(ApiError("NOT_FOUND", "Route not found").envelope(), 404)


def create_app(config: SandboxConfig | None = None) -> Starlette:
    from .control import control_routes

    config = config or SandboxConfig()
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
    routes: list[Any] = [
        Route(API_PREFIX, _api, methods=methods),
        Route(API_PREFIX + "/{rest:path}", _api, methods=methods),
    ]
    if config.control:
        routes.extend(control_routes())
    routes.append(Route("/{rest:path}", _not_found, methods=methods))
    app = Starlette(routes=routes)
    app.state.sandbox = Sandbox(config)
    return app


__all__ = ["ConnectFault", "DroppedConnection", "Sandbox", "SandboxConfig", "create_app"]
