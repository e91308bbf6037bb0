"""Number lookups: which phone numbers are on WhatsApp, checked through a connected instance.

Fewer than 100 numbers answer synchronously with the result; 100 or more start an async lookup that
get_number_lookup_progress polls (every 2 s, like bulk jobs) until it is done, failed or cancelled.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field, StringConstraints

from ..server.call.context import CallContext
from ..server.core.results import Preview, Reply
from ..server.guard.plan import Plan
from ..server.registry import GET, POST, Effect, Example, Made, NoArgs, Seed, ToolInput, Toolset, single
from ._polling import JOB_FINISHED, MAX_WAIT, follow
from ._types import InstanceId, LookupId, _e164

toolset = Toolset("lookups", "Check which numbers are on WhatsApp; import the hits as contacts.")

# A lookup of 150 numbers is still running when its example call reads or cancels it.
A_RUNNING_LOOKUP = Example({"lookup_id": Made("lookupId")},
                           first=("start_number_lookup", {"instance_id": Seed("PERSONAL_CONNECTED_INSTANCE_ID"),
                                                          "numbers": [f"+336990{i:05d}" for i in range(150)]}))


MAX_NUMBERS = 10_000
SYNC_BELOW = 100  # the API answers synchronously under this many numbers
MAX_SHOWN = 250  # per result list: a 10,000-number lookup must not flood the model's context
MAX_INVALID_REPORTED = 20


Numbers = Annotated[
    list[Annotated[str, StringConstraints(max_length=32)]],
    Field(min_length=1, max_length=MAX_NUMBERS, description="E.164 numbers (1-10000)"),
]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), Field(description="Tag for imported contacts")]
WaitSeconds = Annotated[int, Field(ge=0, le=MAX_WAIT, description="Poll up to this long (0-120 s)")]


def _could_be_valid(raw: str) -> bool:
    """Whether the API might accept this number: "international format", with or without the +."""
    candidate = raw.strip()
    if candidate.isdigit():
        candidate = "+" + candidate
    try:
        _e164(candidate)
    except ValueError:
        return False
    return True


def refuse_when_none_valid(numbers: list[str]) -> None:
    """A ToolError naming each number by index when not one of them could be valid (nothing is sent).

    A list with some good numbers goes to the API as it is: the API checks it and reports the bad
    ones in `invalidCount` and `result.invalid` (REFERENCE §17.1), which the tool passes on.
    """
    if any(_could_be_valid(raw) for raw in numbers):  # usually the first: no need to parse 10,000
        return
    invalid = [f"numbers[{index}] {raw!r}" for index, raw in enumerate(numbers)]
    shown = "; ".join(invalid[:MAX_INVALID_REPORTED])
    more = f" and {len(invalid) - MAX_INVALID_REPORTED} more" if len(invalid) > MAX_INVALID_REPORTED else ""
    raise ToolError(
        f"None of the {len(numbers)} numbers is a valid phone number: {shown}{more}. Give numbers in "
        "international form with +country code, e.g. +33612345678; nothing was sent."
    )


def _invalid_note(data: dict[str, Any]) -> str:
    """The numbers the API found invalid, as it reported them (first few), for the summary."""
    items = (data.get("result") or {}).get("invalid") or []
    shown = [repr(item.get("input", item)) if isinstance(item, dict) else repr(item) for item in items[:5]]
    if not shown:
        return ""
    more = f" and {len(items) - len(shown)} more" if len(items) > len(shown) else ""
    return f"; invalid: {', '.join(shown)}{more} (see result.invalid)"


def _counts(data: dict[str, Any]) -> str:
    def pick(*keys: str) -> Any:
        return next((data[k] for k in keys if data.get(k) is not None), 0)

    return (
        f"{pick('onWhatsAppCount')} on WhatsApp, {pick('notOnWhatsAppCount')} not, {pick('invalidCount')} invalid"
    )


def _trim_result(data: Any) -> tuple[Any, str]:
    """Cap each result list so one call can't flood the context; say so in the summary."""
    if not isinstance(data, dict) or not isinstance(data.get("result"), dict):
        return data, ""
    result: dict[str, Any] = dict(data["result"])
    trimmed: list[str] = []
    for key, items in result.items():
        if isinstance(items, list) and len(items) > MAX_SHOWN:
            trimmed.append(f"{key}: first {MAX_SHOWN} of {len(items)}")
            result[key] = items[:MAX_SHOWN]
    if not trimmed:
        return data, ""
    out: dict[str, Any] = {**data, "result": result, "truncated": True}
    return out, " (result lists truncated: " + ", ".join(trimmed) + "; use import_lookup_contacts to act on all)"


class LookupInput(ToolInput):
    instance_id: InstanceId
    numbers: Numbers


async def plan_start_number_lookup(call: CallContext, input: LookupInput) -> Plan:
    """The one POST with the numbers trimmed; a list with no number that could be valid is refused here."""
    refuse_when_none_valid(input.numbers)
    sent = [raw.strip() for raw in input.numbers]
    preview = Preview(action=f"Check {len(sent)} number(s) on WhatsApp through instance {input.instance_id}")
    return call.plan_from(preview, json={"instanceId": input.instance_id, "numbers": sent})


@toolset.tool(
    POST("/api/v1/number-lookups"), Effect.WRITE, plan=plan_start_number_lookup,
    example=Example({"instance_id": Seed("PERSONAL_CONNECTED_INSTANCE_ID"), "numbers": ["+33612345000", "+33699000002"]}),
)
async def start_number_lookup(call: CallContext, args: LookupInput) -> Reply:
    """Check which numbers are on WhatsApp; 100+ numbers start an async lookup."""
    data = await call.send_plan()
    sent: list[str] = call.request.json["numbers"]
    lookup_id = data.get("lookupId") or data.get("id")
    if data.get("mode") == "async" or data.get("status") in ("pending", "processing"):
        summary = (
            f"Lookup {lookup_id} started for {data.get('requested', len(sent))} numbers (async); follow it with "
            f"get_number_lookup_progress(lookup_id='{lookup_id}', wait_seconds=30), then get_number_lookup"
        )
        return Reply(summary, data)
    shown, note = _trim_result(data)
    checked = data.get("requested", len(sent))
    summary = f"Checked {checked} numbers: {_counts(data)} (lookup {lookup_id}){_invalid_note(data)}{note}"
    return Reply(summary, shown)


@toolset.tool(GET("/api/v1/number-lookups"), Effect.READ)
async def list_number_lookups(call: CallContext, args: NoArgs) -> Reply:
    """Recent lookups with status and counts (no result lists)."""
    # The API documents no parameters for this route, so none are sent (no invented limit/cursor).
    data = await call.api()
    items: list[Any] = data if isinstance(data, list) else (data.get("lookups") or [])
    next_cursor = None if isinstance(data, list) else data.get("nextCursor")
    by_status: dict[str, int] = {}
    for item in items:
        status = str(item.get("status"))
        by_status[status] = by_status.get(status, 0) + 1
    states = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
    summary = f"{len(items)} lookup(s)" + (f": {states}" if states else "")
    return Reply(summary, data, next_cursor=next_cursor)


class LookupIdInput(ToolInput):
    lookup_id: LookupId


@toolset.tool(GET("/api/v1/number-lookups/{id}"), Effect.READ, example=A_RUNNING_LOOKUP)
async def get_number_lookup(call: CallContext, args: LookupIdInput) -> Reply:
    """One lookup with its result lists (onWhatsApp, notOnWhatsApp, invalid)."""
    lookup_id = args.lookup_id
    data = await call.api(path={"id": lookup_id})
    shown, note = _trim_result(data)
    return Reply(f"Lookup {lookup_id} {data.get('status')}: {_counts(data)}{note}", shown)


class LookupProgressInput(ToolInput):
    lookup_id: LookupId
    wait_seconds: WaitSeconds | None = None


@toolset.tool(GET("/api/v1/number-lookups/{id}/progress"), Effect.READ, example=A_RUNNING_LOOKUP)
async def get_number_lookup_progress(call: CallContext, args: LookupProgressInput) -> Reply:
    """Progress of an async lookup; wait_seconds polls until it ends."""
    lookup_id = args.lookup_id
    data, waited = await follow(
        call, lambda: call.api(path={"id": lookup_id}), wait_seconds=args.wait_seconds or 0, what="lookup"
    )
    status = data.get("status")
    checked, total = data.get("checkedCount", 0), data.get("normalizedCount") or data.get("requestedCount", 0)
    summary = f"Lookup {lookup_id} {status}: {data.get('progress', 0)}% ({checked}/{total} checked; {_counts(data)})"
    if status not in JOB_FINISHED:
        summary += f"; still running{f' after {waited:g} s' if waited else ''}, poll again"
    elif status == "failed" and data.get("error"):
        summary += f"; error: {data['error']}"
    return Reply(summary, data)


@toolset.tool(
    POST("/api/v1/number-lookups/{id}/cancel"), Effect.WRITE,
    plan=single(lambda args: f"Cancel lookup {args.lookup_id}"),
    example=A_RUNNING_LOOKUP,
)
async def cancel_number_lookup(call: CallContext, args: LookupIdInput) -> Reply:
    """Stop a running async lookup; checked results are kept."""
    data = await call.send_plan()
    status = data.get("status") if isinstance(data, dict) else None
    return Reply(f"Lookup {args.lookup_id} {status or 'cancel requested'}", data)


class ImportInput(ToolInput):
    lookup_id: LookupId
    tag: Tag | None = None


def _import_action(args: ImportInput) -> str:
    tagged = f", tagged {args.tag!r}" if args.tag is not None else ""
    return f"Import the numbers lookup {args.lookup_id} found on WhatsApp as contacts{tagged}"


@toolset.tool(
    POST("/api/v1/number-lookups/{id}/import-contacts"), Effect.WRITE,
    plan=single(_import_action),
    example=Example({"lookup_id": Made("lookupId"), "tag": "verified"},
                     first=("start_number_lookup", {"instance_id": Seed("PERSONAL_CONNECTED_INSTANCE_ID"), "numbers": ["+33699000002"]})),
)
async def import_lookup_contacts(call: CallContext, args: ImportInput) -> Reply:
    """Create contacts from a finished lookup's WhatsApp numbers."""
    data = await call.send_plan()
    lookup_id, tag = args.lookup_id, args.tag
    summary = f"Imported contacts from lookup {lookup_id}"
    if isinstance(data, dict):
        parts = [f"{data[k]} {k}" for k in ("imported", "created", "updated", "skipped", "alreadyExisting") if k in data]
        if parts:
            summary += ": " + ", ".join(parts)
    if tag:
        summary += f" (tag {tag!r})"
    return Reply(summary, data)
