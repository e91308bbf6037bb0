"""The referee of the integrity tests: what each recipient received, as the sandbox delivered it.

What the person confirmed is what people receive, so an integrity test compares *delivered messages*
with the confirmed plan, never with the request the server sent (a request can be right and still be
rendered later from data someone changed meanwhile):

- `run_until_delivered(sandbox_app)` moves the sandbox clock through every due step, one at a time:
  scheduled messages, each campaign run (whenever its resolution setting resolves the recipients),
  each send at the campaign's pace, each delivery step; bounded by a horizon (repeats never end).
- `delivered(sandbox_app)` lists the outbound messages that reached a phone (sent, delivered, read):
  number, rendered text, the links in it, media, buttons.
- `mismatches(deliveries, plan)` says how they differ from a confirmed plan (the `preview` the person
  saw: PLAN_SHAPE's who/what): a number nobody confirmed, a text the confirmed text does not render
  to, a link the confirmed text does not carry (a placeholder filled with one included), other media
  or button targets. An empty list is the proof.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from msgflash_mcp.server.guard.policy import urls_in_text

REACHED = ("sent", "delivered", "read")  # statuses of a message that left for the phone
HORIZON = timedelta(days=10 * 366)  # past the tests' far-off schedules (2031); a repeat needs a shorter one
MAX_STEPS = 20_000  # a loop that would not end fails loudly instead
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z]+\.[A-Za-z0-9_]+)\s*\}\}")


@dataclass(frozen=True)
class Delivery:
    to: str
    text: str | None
    links: tuple[str, ...]  # every link a phone would make clickable in the text, title and footer
    media: str | None
    buttons: tuple[Mapping[str, Any], ...]
    campaign_id: str | None
    contact_id: str | None


def _next_due(db: Any) -> float | None:
    row = db.execute(
        "SELECT min(at) FROM (SELECT min(next_at) AS at FROM campaigns WHERE status IN ('scheduled', 'running') "
        "UNION ALL SELECT min(next_at) FROM messages WHERE next_at IS NOT NULL)"
    ).fetchone()
    return row[0]


def run_until_delivered(sandbox_app: Any, horizon: timedelta = HORIZON) -> None:
    """Run the sandbox clock, step by step, until nothing is due before `horizon` from now."""
    sandbox = sandbox_app.state.sandbox
    sandbox.tick()
    end = sandbox.clock.timestamp() + horizon.total_seconds()
    for _ in range(MAX_STEPS):
        due = _next_due(sandbox.db)
        if due is None or due > end:
            return
        if due > sandbox.clock.timestamp():
            sandbox.clock.set(datetime.fromtimestamp(due, UTC))
        sandbox.tick()
    raise AssertionError(f"the sandbox still had steps due after {MAX_STEPS} of them")


def delivered(sandbox_app: Any, campaign_id: str | None = None) -> list[Delivery]:
    """Outbound messages that reached a phone, oldest first; only `campaign_id`'s when given."""
    rows = sandbox_app.state.sandbox.db.execute("SELECT data FROM messages ORDER BY rid").fetchall()
    out: list[Delivery] = []
    for row in rows:
        message = json.loads(row[0])
        if message.get("direction") != "outbound" or message.get("status") not in REACHED:
            continue
        if campaign_id is not None and message.get("campaignId") != campaign_id:
            continue
        content: Mapping[str, Any] = (message.get("meta") or {}).get("content") or {}
        text = message.get("body")
        out.append(
            Delivery(
                to=str(message["to"]),
                text=text,
                links=tuple(urls_in_text(text, content.get("title"), content.get("footer"))),
                media=message.get("mediaUrl"),
                buttons=tuple(b for b in content.get("buttons") or [] if isinstance(b, Mapping)),
                campaign_id=message.get("campaignId"),
                contact_id=message.get("contactId"),
            )
        )
    return out


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def _text_pattern(planned: str) -> re.Pattern[str]:
    """The confirmed text, with each placeholder still to be filled per recipient matching any value."""
    parts = _PLACEHOLDER.split(planned)
    pattern = "".join(re.escape(part) if i % 2 == 0 else "(.*?)" for i, part in enumerate(parts))
    return re.compile(pattern, re.S)


def _targets(buttons: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every value a button carries (label, url, phone, copy code, id): what it shows and what it does."""
    return {str(v) for button in buttons for k, v in button.items() if k != "type" and isinstance(v, str) and v}


def mismatches(deliveries: Iterable[Delivery], plan: Mapping[str, Any], *, everyone: bool = True) -> list[str]:
    """How `deliveries` differ from the confirmed `plan` (a preview: who + what); [] when they match.

    `everyone`: every confirmed number must have received it too (else only: nobody else did)."""
    who: Mapping[str, Any] = plan.get("who") or {}
    what: Mapping[str, Any] = plan.get("what") or {}
    confirmed = {_digits(n) for n in who.get("numbers") or []}
    planned_text = what.get("text")
    pattern = _text_pattern(planned_text) if isinstance(planned_text, str) else None
    planned_links = set(urls_in_text(planned_text, what.get("title"), what.get("footer")))
    planned_buttons = _targets(b for b in what.get("buttons") or [] if isinstance(b, Mapping))
    problems: list[str] = []
    reached: dict[str, int] = {}
    for d in deliveries:
        reached[_digits(d.to)] = reached.get(_digits(d.to), 0) + 1
        if _digits(d.to) not in confirmed:
            problems.append(f"{d.to} received {d.text!r} but was not among the confirmed recipients")
        if pattern is not None and (d.text is None or not pattern.fullmatch(d.text)):
            problems.append(f"{d.to} received {d.text!r}, not the confirmed {planned_text!r}")
        extra = [link for link in d.links if link not in planned_links]
        if extra:
            problems.append(f"{d.to} received link(s) {extra} that the confirmed text does not carry")
        if d.media != what.get("media"):
            problems.append(f"{d.to} received media {d.media!r}, not the confirmed {what.get('media')!r}")
        unconfirmed = _targets(d.buttons) - planned_buttons
        if unconfirmed:
            problems.append(f"{d.to} received buttons carrying {sorted(unconfirmed)}, not confirmed")
    twice = sorted(n for n, times in reached.items() if times > 1)
    if twice:
        problems.append(f"received more than once: {twice}")
    if everyone:
        missing = sorted(confirmed - set(reached))
        if missing:
            problems.append(f"confirmed but not delivered: {missing}")
    return problems
