"""Messages: send now, schedule, history, get."""

from __future__ import annotations

import re
from typing import Any

from .. import quotas
from .. import seed as S
from ..errors import ApiError, invalid, not_found
from ..lifecycle import insert_message, make_message
from ..store import Ctx, loads
from ..templating import render
from ..util import (
    F,
    decode_cursor,
    e164,
    encode_cursor,
    is_uuid,
    parse_iso,
    public,
    query_int,
    raise_if,
    require,
    validate,
)
from .base import MISSING, UNKNOWN, Call, Made, Req, RouteSpec, route
from .content import BUTTONS_SPEC, CAPTION_TYPES, CONTENT_FIELDS, MESSAGE_TYPES, check_direct_fields

ROUTES: list[RouteSpec] = []
# inferred(inbound-status): `received` (inbound messages), REFERENCE §19.1.
STATUSES = ("scheduled", "queued", "sent", "delivered", "read", "failed", "cancelled", "received")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

SEND_SPEC: dict[str, F] = {
    "instanceId": F("uuid", required=True),
    "to": F("string", required=True, max_len=32),
    "type": F("enum", enum=MESSAGE_TYPES),
    "templateId": F("uuid"),
    "text": F("string", min_len=1, max_len=4096),
    "mediaUrl": F("string"),
    "latitude": F("number"),
    "longitude": F("number"),
    "locationName": F("string", max_len=1024),
    "locationAddress": F("string", max_len=1024),
    "contactId": F("uuid"),
    "variables": F("object"),
    **BUTTONS_SPEC,
}
SCHEDULE_SPEC: dict[str, F] = {**SEND_SPEC, "scheduledAt": F("string", required=True)}


def check_variables(variables: dict[str, Any]) -> None:
    """`variables` feed custom.* placeholders: names must be identifiers, values scalars."""
    for k, v in variables.items():
        if not _VAR_NAME.match(k) or isinstance(v, dict | list | bool):
            raise ApiError("TEMPLATE_INVALID", f"Invalid template variable {k[:40]!r}",
                           [{"field": f"variables.{k[:40]}", "message": "Names must be identifiers and values strings or numbers"}])


def _validate_send(ctx: Ctx, spec: dict[str, F]) -> dict[str, Any]:
    body = validate(ctx.body, spec)
    details: list[dict[str, Any]] = []
    mtype = body.get("type")
    if (mtype is None) == (body.get("templateId") is None):
        details.append({"field": "type", "message": "Provide exactly one of type or templateId"})
    elif mtype is None:  # template mode: the template is the content; contactId may feed contact.*
        for name in ("text", *CONTENT_FIELDS):
            if name in body and name != "contactId":
                details.append({"field": name, "message": "Not used with templateId (the template supplies the content)"})
    else:
        if mtype == "text":
            require("text" in body, "text", "Required for type=text", details)
        elif "text" in body and mtype not in CAPTION_TYPES:  # §7.1: a caption only on image, video, document
            details.append({"field": "text", "message": f"Not used with type={mtype}"
                            + ("; use description" if mtype == "buttons" else "")})
        check_direct_fields(body, mtype, details)
    if mtype == "location":
        lat, lon = body.get("latitude"), body.get("longitude")
        require(lat is not None and -90 <= lat <= 90, "latitude", "Required for type=location (-90..90)", details)
        require(lon is not None and -180 <= lon <= 180, "longitude", "Required for type=location (-180..180)", details)
    if mtype == "contact":
        require("contactId" in body, "contactId", "Required for type=contact", details)
    if "scheduledAt" in spec and "scheduledAt" in body:
        when = parse_iso(body["scheduledAt"])
        if when is None:
            details.append({"field": "scheduledAt", "message": "Expected an ISO 8601 date-time"})
        elif when <= ctx.now:
            # inferred(message-past-schedule): §7.2 leaves a past scheduledAt open; the sandbox refuses it.
            details.append({"field": "scheduledAt", "message": "Must be in the future"})
        else:
            body["_when"] = when
    raise_if(details)
    to = e164(body["to"])
    if to is None:
        raise ApiError("INVALID_DESTINATION", "Invalid recipient number",
                       [{"field": "to", "message": "Expected a valid E.164 number such as +33612345678"}])
    body["to"] = to
    return body


def _create(ctx: Ctx, spec: dict[str, F]) -> dict[str, Any]:
    body = _validate_send(ctx, spec)
    quotas.check_subscription(ctx.db)
    instance = ctx.get("instances", body["instanceId"], "Instance")
    contact = None
    extra: dict[str, Any] = {}
    mtype = body.get("type")
    text: str | None = body.get("text")
    media = body.get("mediaUrl")
    if body.get("templateId"):
        tmpl = ctx.get("templates", body["templateId"], "Template")
        variables = body.get("variables") or {}
        check_variables(variables)
        if "contactId" in body:
            contact = ctx.find("contacts", body["contactId"])
            if contact is None:
                # inferred(template-context-code): the documented code for an unusable context, not 404.
                raise ApiError("TEMPLATE_CONTEXT_UNAVAILABLE", "Contact context unavailable",
                               [{"field": "contactId", "message": "No such contact in this workspace"}])
        else:  # inferred(template-recipient-context): the recipient's own contact record feeds contact.*
            row = ctx.db.execute("SELECT data FROM contacts WHERE ws = ? AND phone = ?", (ctx.ws, body["to"])).fetchone()
            contact = loads(row["data"]) if row else None
        text, missing = render(tmpl.get("body") or "", ctx.db, contact=contact, instance=instance,
                               user_id=ctx.user_id, variables=variables)
        if missing:
            raise ApiError("TEMPLATE_VARIABLES_MISSING", "Template variables could not be resolved: " + ", ".join(missing),
                           [{"field": name, "message": "Unresolved"} for name in missing])
        mtype, media = tmpl["type"], tmpl.get("mediaUrl")
        extra["templateId"] = tmpl["id"]
    elif mtype == "contact":
        contact = ctx.find("contacts", body["contactId"])
        if contact is None:
            raise not_found("Contact")
        text = contact["name"]
        extra["contact"] = {"id": contact["id"], "name": contact["name"], "phone": contact["phone"]}
    elif mtype == "location":
        extra.update({k: body.get(k) for k in ("latitude", "longitude", "locationName", "locationAddress")})
        text = body.get("locationName") or f"{body['latitude']},{body['longitude']}"
    elif mtype == "buttons":
        extra.update({k: body.get(k) for k in ("title", "description", "footer", "buttons")})
        text = body["description"]
    quotas.check_outbound(ctx.db, ctx.user_id, ctx.now)
    when = body.get("_when")
    if when is None:
        quotas.bump(ctx.db, ctx.user_id, ctx.now, "messages")
    msg = make_message(ws=ctx.ws, user_id=ctx.user_id, instance=instance, to=body["to"], mtype=mtype or "text",
                       body=text, media_url=media, contact_id=(contact or {}).get("id"),
                       campaign_id=None, created=ctx.now, t0=when if when is not None else ctx.now,
                       scheduled_at=when, extra=extra or None)
    ctx.wake(insert_message(ctx.db, msg))
    ctx.created_id = msg["id"]
    return public(msg)


# Calls for the contract test (sandbox/routes/base.py): dates are after its clock, 2026-04-10.
PC = S.PERSONAL_CONNECTED_INSTANCE_ID
TEXT = {"instanceId": PC, "to": "+33612345678", "type": "text", "text": "hi"}
TEMPLATED = {"instanceId": PC, "to": "+33612345000", "templateId": S.PROMO_TEMPLATE_ID}
LATER = "2026-05-01T00:00:00Z"
# Only the real provider and team permissions produce these: the faults API injects them.
PROVIDER_ONLY = {code: Call(TEXT, fault=True) for code in ("INSTANCE_NOT_ASSIGNED", "PROVIDER_TIMEOUT", "PROVIDER_UNAVAILABLE")}


@route(ROUTES, "POST", "/messages/send", 201,
       example=Call({"instanceId": PC, "to": "+33612345678", "type": "text", "text": "Hello"}),
       errors={
           "VALIDATION_ERROR": Call({"instanceId": PC, "type": "text", "text": "x"}),
           "TEMPLATE_INVALID": Call({**TEMPLATED, "variables": {"bad key": "x"}}),
           "TEMPLATE_VARIABLES_MISSING": Call(TEMPLATED),
           "TEMPLATE_CONTEXT_UNAVAILABLE": Call({**TEMPLATED, "variables": {"code": "X"}, "contactId": MISSING}),
           "SUBSCRIPTION_INACTIVE": Call(TEXT, account={"subscriptionActive": False}),
           "NOT_FOUND": Call({**TEXT, "instanceId": MISSING}),
           "MONTHLY_OUTBOUND_QUOTA_EXCEEDED": Call(TEXT, account={"usage": {"messagesCount": 5000}}),
           "INVALID_DESTINATION": Call({**TEXT, "to": "+1234"}),
           **PROVIDER_ONLY,
       })
def send(ctx: Ctx) -> dict[str, Any]:
    return _create(ctx, SEND_SPEC)


@route(ROUTES, "POST", "/messages/schedule", 201,
       example=Call({
           "instanceId": PC, "to": "+33612345678", "type": "buttons", "title": "RDV", "description": "Confirmez",
           "buttons": [{"type": "reply", "displayText": "Confirmer", "id": "confirm_appointment"}],
           "scheduledAt": "2026-04-12T08:00:00.000Z"}),
       errors={
           "VALIDATION_ERROR": Call({**TEXT, "scheduledAt": "tomorrow"}),
           "TEMPLATE_INVALID": Call({**TEMPLATED, "variables": {"x": {"nested": 1}}, "scheduledAt": LATER}),
           "NOT_FOUND": Call({**TEMPLATED, "templateId": MISSING, "scheduledAt": LATER}),
           "MONTHLY_OUTBOUND_QUOTA_EXCEEDED": Call(
               {**TEXT, "scheduledAt": LATER}, account={"usage": {"messagesCount": 4000, "statusesCount": 1000}}),
       })
def schedule(ctx: Ctx) -> dict[str, Any]:
    return _create(ctx, SCHEDULE_SPEC)


@route(ROUTES, "GET", "/messages")
def list_messages(ctx: Ctx) -> dict[str, Any]:
    q = ctx.query
    limit = query_int(q, "limit", 50, 100)  # inferred(message-list-limit): default/max 50/100, like contacts
    # Newest first by creation time, not insertion order: lifecycles run lazily, so one clock jump
    # can store a campaign's sends and older replies in any order. The cursor is (createdAt, rid).
    created = "json_extract(data, '$.createdAt')"
    sql = f"SELECT rid, {created} AS created, data FROM messages WHERE ws = ?"
    args: list[Any] = [ctx.ws]
    if q.get("instanceId") is not None:
        if not is_uuid(q["instanceId"]):
            raise invalid([{"field": "instanceId", "message": "Expected a UUID"}])
        sql += " AND instance_id = ?"
        args.append(q["instanceId"])
    if q.get("status") is not None:
        if q["status"] not in STATUSES:
            raise invalid([{"field": "status", "message": "One of " + ", ".join(STATUSES)}])
        sql += " AND status = ?"
        args.append(q["status"])
    if q.get("cursor"):
        after, rid = decode_cursor(q["cursor"])
        if not rid.isdigit():
            raise invalid([{"field": "cursor", "message": "Invalid cursor"}])
        sql += f" AND ({created}, rid) < (?, ?)"  # a row value: walks the messages_created index
        args += [after, int(rid)]
    sql += f" ORDER BY {created} DESC, rid DESC LIMIT ?"
    args.append(limit + 1)
    rows = ctx.db.execute(sql, args).fetchall()
    has_more = len(rows) > limit
    rows = rows[:limit]
    items = []
    for r in rows:
        m = public(loads(r["data"]))
        m["meta"] = {}  # list items carry an empty meta in the documented example
        items.append(m)
    cursor = encode_cursor(rows[-1]["created"], rows[-1]["rid"]) if has_more else None
    return {"messages": items, "nextCursor": cursor, "hasMore": has_more}


@route(ROUTES, "GET", "/messages/{id}", example=Call(id=Made("messages.0.id"), first=(Req("GET", "/messages"),)),
       errors={"NOT_FOUND": UNKNOWN})
def get_message(ctx: Ctx, id: str) -> dict[str, Any]:
    return public(ctx.get("messages", id, "Message"))
