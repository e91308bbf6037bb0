"""Control surface outside /api/v1 (only when SandboxConfig.control):

GET    /_sandbox/ledger               every /api/v1 request (?since=<seq> to page)
DELETE /_sandbox/ledger               clear it
GET    /_sandbox/faults               active fault rules
POST   /_sandbox/faults               add rule(s): object, list, or {"rules": [...]}
DELETE /_sandbox/faults               clear rules
POST   /_sandbox/reset                wipe and re-seed data, clear ledger/faults/outbox/rate limits
GET    /_sandbox/clock                {"now": iso}
POST   /_sandbox/clock                {"advance": seconds} or {"set": iso}; then applies due transitions
POST   /_sandbox/account              {"plan": code, "usage": {messagesCount, statusesCount, apiRequestsCount},
                                       "subscriptionActive": bool}
POST   /_sandbox/instances/{id}       {"status": "connected"|"connecting"|"disconnected"}
POST   /_sandbox/inbound              {"instanceId", "from": E.164, "body"}: someone writes to that number
                                       (stored as an inbound message, `message.received` emitted)
GET    /_sandbox/webhook-deliveries   the signed outbox (DELETE clears it)
GET    /_sandbox/info                 keys, team id and seeded ids

Only the local user may drive it, not a web page they happen to visit (see `refusal`): the `Host`
must be a loopback name (DNS rebinding), an `Origin`, when sent, a loopback origin, and every POST
or DELETE must be a request a browser cannot send cross-site without a CORS preflight (which this
app never grants): `Content-Type: application/json`, or the header `X-Sandbox-Control: 1`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import quotas, seed
from .errors import ApiError, invalid
from .faults import parse_rules
from .keys import PERSONAL_KEY, TEAM_ID, TEAM_KEY, TEAM_NAME
from .lifecycle import emit, receive_text
from .plans import PLANS
from .store import dumps, loads
from .util import e164, iso, parse_iso


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False).encode(), status_code=status, media_type="application/json")


def _sb(request: Request) -> Any:
    return request.app.state.sandbox


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise invalid([{"field": "body", "message": "Malformed JSON"}]) from None


CONTROL_HEADER = "x-sandbox-control"
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _loopback_authority(authority: str) -> bool:
    """`localhost`, `127.0.0.1` or `[::1]`, with any port (the app does not know the one it is served on)."""
    host = authority.strip().lower()
    name = host[: host.find("]") + 1] if host.startswith("[") else host.partition(":")[0]  # "[::1" -> "": refused
    return name in _LOOPBACK_NAMES


def _refused(status: int, code: str, message: str) -> Response:
    return _json({"error": {"code": code, "message": message}}, status)


def refusal(request: Request) -> Response | None:
    """Why this control request is refused, or None. The checks of mcp's transport security, plus
    the non-simple request rule: a page on another site can make a browser send a simple POST
    (text/plain, no custom header) to loopback, and would reset the sandbox or inject faults."""
    host = request.headers.get("host", "")
    if not _loopback_authority(host):
        return _refused(421, "INVALID_HOST", f"Host {host[:100]!r} is not a loopback name: the control surface "
                        "answers only to localhost, 127.0.0.1 or [::1]")
    origin = request.headers.get("origin")
    if origin is not None:
        scheme, _, authority = origin.partition("://")
        if scheme not in ("http", "https") or not _loopback_authority(authority):
            return _refused(403, "INVALID_ORIGIN", f"Origin {origin[:100]!r} is not a loopback origin: web pages "
                            "cannot drive the sandbox's control surface")
    if request.method not in _UNSAFE_METHODS or request.headers.get(CONTROL_HEADER) == "1":
        return None
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if request.method == "POST" and media_type and media_type != "application/json":
        return _refused(415, "UNSUPPORTED_MEDIA_TYPE", f"send Content-Type: application/json, not {media_type[:60]!r} "
                        "(or the header X-Sandbox-Control: 1)")
    if media_type != "application/json":
        return _refused(403, "CONTROL_HEADER_REQUIRED", f"{request.method} {request.url.path} needs the header "
                        "X-Sandbox-Control: 1 (or a JSON body with Content-Type: application/json)")
    return None


def _guard(fn: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        refused = refusal(request)
        if refused is not None:
            return refused
        try:
            return await fn(request)
        except ApiError as exc:
            return _json(exc.envelope(), exc.status)

    return endpoint


async def ledger(request: Request) -> Response:
    sb = _sb(request)
    if request.method == "DELETE":
        sb.ledger.clear()
        return _json({"data": {"cleared": True}})
    since = int(request.query_params.get("since", "0") or 0)
    return _json({"data": [e for e in sb.ledger if e["seq"] > since]})


async def faults(request: Request) -> Response:
    sb = _sb(request)
    if request.method == "DELETE":
        sb.faults.clear()
        return _json({"data": {"cleared": True}})
    if request.method == "POST":
        sb.faults.add(parse_rules(await _body(request)))
    return _json({"data": [r.describe() for r in sb.faults.rules]})


async def reset(request: Request) -> Response:
    _sb(request).reset()
    return _json({"data": {"reset": True}})


async def clock(request: Request) -> Response:
    sb = _sb(request)
    if request.method == "POST":
        body = await _body(request)
        if not isinstance(body, dict):
            raise invalid([{"field": "body", "message": "Expected an object"}])
        if "advance" in body:
            if not isinstance(body["advance"], int | float) or isinstance(body["advance"], bool):
                raise invalid([{"field": "advance", "message": "Expected seconds"}])
            sb.clock.advance(float(body["advance"]))
        elif "set" in body:
            ts = parse_iso(body["set"])
            if ts is None:
                raise invalid([{"field": "set", "message": "Expected an ISO 8601 date-time"}])
            from datetime import UTC, datetime

            sb.clock.set(datetime.fromtimestamp(ts, UTC))
        else:
            raise invalid([{"field": "body", "message": "Expected advance or set"}])
        sb.tick()
    return _json({"data": {"now": iso(sb.clock.now())}})


async def account(request: Request) -> Response:
    sb = _sb(request)
    body = await _body(request)
    if not isinstance(body, dict):
        raise invalid([{"field": "body", "message": "Expected an object"}])
    db = sb.db
    now = sb.clock.timestamp()
    acct = quotas.account(db)
    if "plan" in body:
        if body["plan"] not in PLANS:
            raise invalid([{"field": "plan", "message": "One of " + ", ".join(PLANS)}])
        acct["plan"] = body["plan"]
    if "subscriptionActive" in body:
        acct["subscriptionActive"] = bool(body["subscriptionActive"])
    quotas.save_account(db, acct)
    names = {"messagesCount": "messages", "statusesCount": "statuses", "apiRequestsCount": "api"}
    usage = body.get("usage") or {}
    if not isinstance(usage, dict) or set(usage) - set(names) or not all(isinstance(v, int) for v in usage.values()):
        raise invalid([{"field": "usage", "message": "Integers for " + ", ".join(names)}])
    if usage:
        quotas.set_usage(db, seed.USER_ID, now, {names[k]: v for k, v in usage.items()})
    return _json({"data": {"plan": acct["plan"], "subscriptionActive": acct.get("subscriptionActive", True),
                           "usage": quotas.usage_block(db, seed.USER_ID, now)}})


async def instance(request: Request) -> Response:
    sb = _sb(request)
    body = await _body(request)
    status = body.get("status") if isinstance(body, dict) else None
    if status not in ("connected", "connecting", "disconnected"):
        raise invalid([{"field": "status", "message": "One of connected, connecting, disconnected"}])
    row = sb.db.execute("SELECT ws, data FROM instances WHERE id = ?", (request.path_params["id"],)).fetchone()
    if row is None:
        raise ApiError("NOT_FOUND", "Instance not found")
    inst = loads(row["data"])
    before = inst["status"]
    inst["status"] = status
    inst["updatedAt"] = iso(sb.clock.now())
    sb.db.execute("UPDATE instances SET data = ? WHERE id = ?", (dumps(inst), inst["id"]))
    if before != status and status in ("connected", "disconnected"):
        emit(sb, sb.db, row["ws"], "instance." + status,
             {"event": "instance." + status, "instanceId": inst["id"], "status": status, "timestamp": inst["updatedAt"]})
    return _json({"data": {k: v for k, v in inst.items() if not k.startswith("_")}})


async def inbound(request: Request) -> Response:
    sb = _sb(request)
    body = await _body(request)
    if not isinstance(body, dict):
        raise invalid([{"field": "body", "message": "Expected an object"}])
    sender, text = e164(body.get("from")), body.get("body")
    text_ok = isinstance(text, str) and 1 <= len(text) <= 4096
    if sender is None or not text_ok or not isinstance(text, str):
        details = [] if sender else [{"field": "from", "message": "Expected an E.164 number such as +33612345678"}]
        raise invalid(details + ([] if text_ok else [{"field": "body", "message": "Expected 1 to 4096 characters"}]))
    row = sb.db.execute("SELECT ws, data FROM instances WHERE id = ?", (body.get("instanceId"),)).fetchone()
    if row is None:
        raise ApiError("NOT_FOUND", "Instance not found")
    sb.tick()  # earlier lifecycle steps land first
    msg = receive_text(sb, sb.db, ws=row["ws"], user_id=seed.USER_ID, instance=loads(row["data"]), sender=sender,
                       body=text, at=sb.clock.timestamp())
    return _json({"data": {k: v for k, v in msg.items() if not k.startswith("_")}}, 201)


async def deliveries(request: Request) -> Response:
    sb = _sb(request)
    if request.method == "DELETE":
        sb.outbox.clear()
        return _json({"data": {"cleared": True}})
    sb.tick()
    return _json({"data": sb.outbox})


async def info(request: Request) -> Response:
    ids = {k: v for k, v in vars(seed).items() if k.endswith("_ID") and isinstance(v, str)}
    return _json({"data": {"personalKey": PERSONAL_KEY, "teamKey": TEAM_KEY, "teamId": TEAM_ID, "teamName": TEAM_NAME,
                           "ids": ids}})


def control_routes() -> list[Route]:
    return [
        Route("/_sandbox/ledger", _guard(ledger), methods=["GET", "DELETE"]),
        Route("/_sandbox/faults", _guard(faults), methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/reset", _guard(reset), methods=["POST"]),
        Route("/_sandbox/clock", _guard(clock), methods=["GET", "POST"]),
        Route("/_sandbox/account", _guard(account), methods=["POST"]),
        Route("/_sandbox/instances/{id}", _guard(instance), methods=["POST"]),
        Route("/_sandbox/inbound", _guard(inbound), methods=["POST"]),
        Route("/_sandbox/webhook-deliveries", _guard(deliveries), methods=["GET", "DELETE"]),
        Route("/_sandbox/info", _guard(info), methods=["GET"]),
    ]
