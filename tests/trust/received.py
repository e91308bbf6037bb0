"""What people received, as the sandbox delivers it once its clock has run: the referee of the race tests.

A minimal reader (number, type, rendered body, media, campaign) of the simulator's outbound messages
that reached the `delivered` or `read` state. The full delivery referee (tests/delivery.py, buttons and
links included) is being written beside this; these tests need only who got which text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

REACHED = ("delivered", "read")
MAX_STEPS = 5_000  # clock steps; each moves to the next due event, so this bounds the work, not the time


@dataclass(frozen=True)
class Received:
    to: str
    type: str
    body: str | None
    media_url: str | None
    campaign_id: str | None


@dataclass(frozen=True)
class Before:
    """What the simulator held before a test acted: its messages, and the campaigns that will send more."""

    messages: frozenset[str]
    campaigns: frozenset[str]


def before(sandbox_app: Any) -> Before:
    """Note this before the race: `received` leaves out these messages and what these campaigns send later."""
    db = sandbox_app.state.sandbox.db
    return Before(
        frozenset(row["id"] for row in db.execute("SELECT id FROM messages")),
        frozenset(row["id"] for row in db.execute("SELECT id FROM campaigns")),
    )


def run_clock(sandbox_app: Any, until: datetime | None = None) -> None:
    """Move the simulator's clock from one due event to the next until `until` (default: a day from now), so
    every campaign due by then runs and every message reaches its end state."""
    sandbox = sandbox_app.state.sandbox
    end = (until or sandbox.clock.now() + timedelta(days=1)).timestamp()
    for _ in range(MAX_STEPS):
        sandbox.tick()
        due = sandbox.next_due
        if due > end:
            return
        sandbox.clock.advance(max(due - sandbox.clock.timestamp(), 0.0) + 1.0)
    raise AssertionError(f"the sandbox still had work due after {MAX_STEPS} steps of its clock")


def received(sandbox_app: Any, since: Before) -> list[Received]:
    """Messages people received that neither existed nor were due from an earlier campaign at `since`."""
    db = sandbox_app.state.sandbox.db
    out: list[Received] = []
    for row in db.execute("SELECT id, data FROM messages ORDER BY rid"):
        msg = json.loads(row["data"])
        if row["id"] in since.messages or msg.get("campaignId") in since.campaigns:
            continue
        if msg.get("direction") != "outbound" or msg.get("status") not in REACHED:
            continue
        out.append(Received(msg["to"], msg.get("type") or "text", msg.get("body"), msg.get("mediaUrl"), msg.get("campaignId")))
    return out
