"""The action plan: what one mutating call will do, frozen before anyone is asked.

A `Plan` is built by the tool's planner from its typed input and the call's `CallContext`
(`server.call.context`): the workspace, the exact request(s) the body will send, the resolved
recipients, the rendered content, every URL, the instance and the schedule. The preview, the
elicitation text and the confirmation token are all derived from it, and the tool body sends
exactly `plan.requests`.

`digest` is sha256 over the canonical JSON of the parts that decide the effect (`decisive()`):
never informational values that drift on their own (quota numbers, instance state text, warnings).
Just before a write the plan is rebuilt from live data; a different digest means nothing is sent
and the person is asked again with `changes(old, new)` ("recipients 5 → 20").

API for other modules:
- `PlannedRequest(route, path=, query=, json=)` - one request, exactly as it will go out.
- `Plan(tool=, action=, workspace=, requests=, ...)` - frozen; `.digest`, `.short`, `.view()`
  (the JSON shape of notes PLAN_SHAPE: what `preview` carries), `.as_text()` (the elicitation
  question), `.decisive()`.
- `from_preview(preview, tool=, workspace=, label=, requests=, **parts)` - a plan whose informational
  lines come from a `Preview` (planners reach it through `CallContext.plan_from`).
- `changes(old_decisive, new_plan)` - human lines saying what differs between two plans.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from ..api.route import Route
from ..canonical import canonical_json as canonical
from ..core.results import Preview
from ..untrusted import names_line, one_line, quote_untrusted, readable, shown

SHORT = 16  # hex characters of the digest shown to people




@dataclass(frozen=True)
class PlannedRequest:
    """One request exactly as the body will send it."""

    route: Route
    path: Mapping[str, str] | None = None
    query: Mapping[str, Any] | None = None
    json: Any = None

    def wire(self) -> dict[str, Any]:
        return {"route": str(self.route), "path": self.path, "query": self.query, "json": self.json}


@dataclass(frozen=True)
class Plan:
    """What a mutating call will do. Built once per call round; never mutated.

    Decisive (in the digest): tool, workspace, requests, recipients/numbers/contact_ids, content (every
    field recipients get: text, media, each button's target, the place, a shared card's name and number),
    urls, schedule utc/repeat, instance id, blocked. Informational (shown only): action, label, selector,
    sample, shown, schedule local, cost, risk, unfrozen, details.
    """

    tool: str
    action: str
    workspace: str | None  # workspace name ("personal", "acme"); None for server-only tools
    label: str | None = None  # how people see the workspace ("personal (sandbox)")
    requests: tuple[PlannedRequest, ...] = ()
    recipients: int | None = None  # exact number of people it reaches
    selector: str | None = None  # "members of group 'VIP' (frozen to 20 contact ids)"
    numbers: tuple[str, ...] = ()  # explicit phone numbers (recipient policy)
    contact_ids: tuple[str, ...] = ()  # resolved recipients by id, when known
    sample: tuple[Mapping[str, Any], ...] = ()
    content: Mapping[str, Any] | None = None  # type, template, text (rendered), media, buttons
    urls: tuple[str, ...] = ()  # every link, media URL and target it carries (URL policy)
    schedule: Mapping[str, Any] | None = None  # utc, local, repeat
    instance: Mapping[str, Any] | None = None  # id, name, number, state
    cost: Mapping[str, Any] | None = None
    risk: tuple[str, ...] = ()
    unfrozen: str | None = None
    blocked: str | None = None  # a policy or the plan itself refuses it outright
    affects: tuple[str, ...] = ()  # ids of pending campaigns whose sends this edit changes
    confirm_reason: str | None = None  # a `confirmable` tool's call that needs a confirmation, and why
    details: Mapping[str, Any] = field(default_factory=dict[str, Any])  # other informational lines
    shown: Mapping[str, Any] = field(default_factory=dict[str, Any])  # informational `what` keys: sample, sample_for
    broadcast: bool = False  # its tool reaches everyone who has the number (ToolSpec.broadcast): no recipient list
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", hashlib.sha256(canonical(self.decisive()).encode()).hexdigest())

    @property
    def short(self) -> str:
        return self.digest[:SHORT]

    def decisive(self) -> dict[str, Any]:
        """The parts that decide the effect: what the digest covers and what `changes` compares."""
        instance = self.instance or {}
        schedule = self.schedule or {}
        return {
            "tool": self.tool,
            "workspace": self.workspace,
            "requests": [r.wire() for r in self.requests],
            "recipients": self.recipients,
            "numbers": sorted(self.numbers),
            "contact_ids": sorted(self.contact_ids),
            "content": dict(self.content) if self.content else None,
            "urls": sorted(self.urls),
            "schedule": {"utc": schedule.get("utc"), "repeat": schedule.get("repeat")} if schedule else None,
            "instance": instance.get("id"),
            "blocked": self.blocked,
            "affects": sorted(self.affects),
            "confirm_reason": self.confirm_reason,
        }

    # ------------------------------------------------------------------------------ views

    def view(self, changes: list[str] | None = None) -> dict[str, Any]:
        """The JSON shape shared with the review card and previews (keys absent when not applicable):
        who/what/when/cost/instance/risk, plus the informational `details` lines that none of them holds;
        through `readable`: no bidi or invisible characters, and line breaks only inside message text."""
        out: dict[str, Any] = {"tool": self.tool, "action": self.action}
        if self.label or self.workspace:
            out["workspace"] = self.label or self.workspace
        out["digest"] = self.short
        who: dict[str, Any] = {}
        if self.recipients is not None:
            who["count"] = self.recipients
        if self.selector:
            who["selector"] = self.selector
        if self.sample:
            who["sample"] = [dict(s) for s in self.sample]
        if self.numbers:
            who["numbers"] = list(self.numbers)
        if who:
            out["who"] = who
        what = {**(self.content or {}), **self.shown}
        if self.urls:
            what["links"] = [{"url": u, "host": _host(u)} for u in self.urls]
        if what:
            out["what"] = what
        if self.schedule:
            out["when"] = dict(self.schedule)
        if self.cost:
            out["cost"] = dict(self.cost)
        if self.instance:
            out["instance"] = dict(self.instance)
        if self.risk:
            out["risk"] = list(self.risk)
        if changes:
            out["changes"] = changes
        if self.unfrozen:
            out["unfrozen"] = self.unfrozen
        for key, value in self.details.items():
            out.setdefault(key, value)
        if self.blocked:
            out["blocked"] = self.blocked
        return readable(out, MESSAGE_TEXT)

    def as_text(self, changes: list[str] | None = None) -> str:
        """The question a person reads in an elicitation form: workspace and digest first, so a changed
        plan or workspace is a different question (the 2026-07-28 era then asks again by itself).

        Every line passes `one_line` last, so no value (a template name, a contact card, a rendered
        sample) can start a line of its own and forge "Recipients: 1" or "workspace: personal"; message
        text is quoted with its line breaks marked; people are named in words (`names_line`)."""
        lines = [f"{self.action} (workspace: {self.label or self.workspace or '-'}; plan {self.short})"]
        lines.extend(f"CHANGED: {line}" for line in changes or [])
        if self.recipients is not None:
            named = f": {names_line(self.sample, self.recipients)}" if self.sample else ""
            lines.append(f"Recipients: {self.recipients}" + (f" ({self.selector})" if self.selector else "") + named)
        lines.extend(content_lines(self.content or {}))
        for key, value in self.details.items():
            lines.append(f"{key}: {_form_value(key, value)}")
        if self.shown.get("sample"):
            lines.append(f"sample for {self.shown.get('sample_for')}: {_form_value('sample', self.shown['sample'])}")
        if self.schedule:
            local = f", {self.schedule['local']}" if self.schedule.get("local") else ""
            repeat = self.schedule.get("repeat")
            lines.append(f"when: {self.schedule.get('utc')} UTC{local}" + (f", repeats {repeat}" if repeat not in (None, "none") else ""))
        if self.cost:
            lines.append(f"outbound quota: {self.cost.get('quota_before')} → {self.cost.get('quota_after')} left")
        if self.instance:
            state = self.instance.get("state")
            lines.append(f"instance: {self.instance.get('name')} ({self.instance.get('number')}), {state}")
        if self.urls:
            lines.append("Links: " + ", ".join(self.urls))
        if self.unfrozen:
            lines.append(f"NOT FROZEN: {self.unfrozen}")
        lines.extend(f"WARNING: {warning}" for warning in self.risk)
        return "\n".join(one_line(line, FORM_LINE) for line in lines)


# Keys whose value is a message's own text: kept multi-line in the card's data (a block of its own
# there), quoted with "⏎" for its line breaks in a form.
MESSAGE_TEXT = frozenset({"text", "sample"})
FORM_LINE = 6000  # a form line's cap: a whole 4,096-character message fits, quoted


def _form_value(key: str, value: Any) -> str:
    if key in MESSAGE_TEXT and isinstance(value, str):
        return quote_untrusted(value, FORM_LINE - 100, breaks="⏎")
    return shown(value, FORM_LINE - 100)


def content_lines(content: Mapping[str, Any]) -> list[str]:
    """Every decisive field of a plan's `what`, one line each, as a person reads it in a form: the text,
    the media, what each button does (number called, code copied, link opened, Pix key), the place,
    the contact card shared. Third-party values are kept on one line each."""
    lines: list[str] = []
    if content.get("template"):
        lines.append(f"template: {quote_untrusted(content['template'], 120)}")
    elif content.get("type"):
        lines.append(f"type: {content['type']}")
    for key, limit in (("title", 200), ("text", None), ("footer", 200), ("media", 300)):
        value = content.get(key)
        if value:  # the message text is shown whole, quoted, its line breaks marked: it is what people will read
            lines.append(f"{key}: {_form_value(key, value) if limit is None else one_line(value, limit)}")
    for button in content.get("buttons") or ():
        lines.append(f"button {one_line(button.get('label'), 60)!r}: {one_line(button.get('target'), 300)}")
    place = content.get("location")
    if place:
        named = ", ".join(one_line(p, 120) for p in (place.get("name"), place.get("address")) if p)
        lines.append(f"location: {place.get('latitude')}, {place.get('longitude')}" + (f" ({named})" if named else ""))
    card = content.get("card")
    if card:
        lines.append(f"shares contact card: {quote_untrusted(card.get('name') or '?', 60)} ({one_line(card.get('phone'), 32)})")
    if content.get("variables"):
        pairs = ", ".join(f"{k}={one_line(v, 60)}" for k, v in content["variables"].items())
        lines.append(f"variables: {pairs}")
    return lines


def _host(url: str) -> str:
    """The host a browser would open (WHATWG, policy.parse_url): what a person judging a link must see."""
    from .policy import parse_url

    parsed = parse_url(url)
    return parsed.host if parsed else ""


def from_preview(
    preview: Preview,
    *,
    tool: str,
    workspace: str | None,
    label: str | None,
    requests: tuple[PlannedRequest, ...] = (),
    **parts: Any,
) -> Plan:
    """A plan whose informational lines come from a `Preview` filled by the preview helpers."""
    if preview.contact_ids and "contact_ids" not in parts:
        parts["contact_ids"] = tuple(preview.contact_ids)
    if preview.affects and "affects" not in parts:
        parts["affects"] = tuple(preview.affects)
    return Plan(
        tool=tool,
        action=preview.action,
        workspace=workspace,
        label=label,
        requests=requests,
        recipients=preview.recipients,
        numbers=tuple(preview.numbers),
        urls=tuple(preview.urls),
        risk=tuple(preview.warnings),
        blocked=preview.blocked,
        confirm_reason=preview.confirm_reason,
        details=dict(preview.details),
        **parts,
    )


# ---------------------------------------------------------------------------------- changes


def changes(old: Mapping[str, Any] | None, new: Plan) -> list[str]:
    """What differs between a confirmed plan (its `decisive()` dict) and the live one, in words: every
    line gives before → after ("recipients 3 → 4", a text quoted both ways), never only "changed"."""
    if old is None:
        return ["the plan changed since it was confirmed"]
    cur = new.decisive()
    lines: list[str] = []

    def differs(key: str) -> bool:
        return canonical(old.get(key)) != canonical(cur.get(key))

    if differs("workspace"):
        lines.append(f"workspace {old.get('workspace')} → {cur.get('workspace')}")
    if differs("recipients") or differs("numbers") or differs("contact_ids"):
        lines.extend(_recipient_changes(old, cur))
    before: Mapping[str, Any] = old.get("content") or {}
    after: Mapping[str, Any] = cur.get("content") or {}
    if canonical(before.get("text")) != canonical(after.get("text")):
        what = "template text" if after.get("template_id") or before.get("template_id") else "text"
        lines.append(f"{what} changed: {_was(before.get('text'))} → {_was(after.get('text'))}")
    for key in sorted((set(before) | set(after)) - {"text"}):
        if canonical(before.get(key)) != canonical(after.get(key)):
            lines.append(f"{key} {_was(before.get(key))} → {_was(after.get(key))}")
    if differs("urls"):
        lines.append("links " + _set_change(old.get("urls") or [], cur.get("urls") or []))
    if differs("schedule"):
        lines.append(f"schedule {_when(old.get('schedule'))} → {_when(cur.get('schedule'))}")
    if differs("instance"):
        lines.append(f"instance {old.get('instance')} → {cur.get('instance')}")
    if differs("affects"):
        lines.append(f"pending campaigns affected {len(old.get('affects') or [])} → {len(cur.get('affects') or [])}")
    if differs("blocked"):
        lines.append(f"a policy now refuses it: {_was(cur.get('blocked'))}" if cur.get("blocked") else
                     f"no longer refused (was: {_was(old.get('blocked'))})")
    if not lines and (differs("requests") or differs("tool")):
        lines.append("the request changed")
    return lines or ["the plan changed since it was confirmed"]


def _recipient_changes(old: Mapping[str, Any], cur: Mapping[str, Any]) -> list[str]:
    """The count before → after (from the ids or numbers when a plan counts none), then who came and went."""

    def count(plan: Mapping[str, Any]) -> int:
        recipients = plan.get("recipients")
        return recipients if isinstance(recipients, int) else len(plan.get("contact_ids") or plan.get("numbers") or [])

    lines = [f"recipients {count(old)} → {count(cur)}"]
    # Phones say who to a person; contact ids only when nothing else shows that someone was swapped.
    if canonical(old.get("numbers")) != canonical(cur.get("numbers")):
        lines.append(f"numbers {_set_change(old.get('numbers') or [], cur.get('numbers') or [])}")
    elif count(old) == count(cur):
        lines.append(f"contact ids {_set_change(old.get('contact_ids') or [], cur.get('contact_ids') or [])}")
    return lines


def _set_change(before: list[Any], after: list[Any], shown_at_most: int = 3) -> str:
    """'3 → 4 (added +336…)': the sizes, then what was added and removed, named when few."""
    added = [str(v) for v in after if v not in before]
    removed = [str(v) for v in before if v not in after]

    def some(values: list[str]) -> str:
        named = ", ".join(one_line(v, 120) for v in values[:shown_at_most])
        return named + (f" and {len(values) - shown_at_most} more" if len(values) > shown_at_most else "")

    moved = [f"added {some(added)}" if added else "", f"removed {some(removed)}" if removed else ""]
    return f"{len(before)} → {len(after)} ({'; '.join(m for m in moved if m)})"


def _was(value: Any) -> str:
    """One side of a change, short: text quoted (it may be third-party), 'none' for nothing."""
    if value is None:
        return "none"
    return quote_untrusted(value, 60) if isinstance(value, str) else shown(value, 120)


def _when(value: object) -> str:
    if not isinstance(value, Mapping):
        return "none"
    schedule = cast("Mapping[str, Any]", value)
    repeat = schedule.get("repeat")
    return f"{schedule.get('utc')} UTC" + (f", repeats {repeat}" if repeat not in (None, "none") else "")
