"""Following an asynchronous API job (bulk contact jobs, number lookups) until it ends or the wait is over.

Both job kinds share the reference's rules: poll progress every 2 s, report it to the caller, stop at
`done`, `failed` or `cancelled`. One loop serves both, so the interval and the bound live here once; it
waits on the call's clock (the runtime's), which tests point at the sandbox's time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..server.call.context import CallContext

POLL_INTERVAL = 2.0  # seconds, as the API documents for progress polling
MAX_WAIT = 120  # the longest a tool call may follow a job
# An asynchronous job's lifecycle (bulk contact jobs, number lookups), which ends `done`; not a campaign's
# (server/campaign_record.CAMPAIGN_FINISHED ends `completed`): two APIs, two sets of words.
JOB_FINISHED = frozenset({"done", "failed", "cancelled"})


async def follow(
    call: CallContext, read: Callable[[], Awaitable[Any]], *, wait_seconds: float, what: str
) -> tuple[dict[str, Any], float]:
    """Read a job's progress, then poll until it finishes or `wait_seconds` pass; (last read, seconds waited)."""
    data = await read()
    waited = 0.0
    while data.get("status") not in JOB_FINISHED and waited < wait_seconds:
        await call.report_progress(float(data.get("progress") or 0), 100.0, f"{what} {data.get('status')}")
        step = min(POLL_INTERVAL, wait_seconds - waited)
        await call.clock.sleep(step)  # the runtime's clock: a test's moves the sandbox's time instead
        waited += step
        data = await read()
    if waited:
        await call.report_progress(float(data.get("progress") or 0), 100.0, f"{what} {data.get('status')}")
    return data, waited
