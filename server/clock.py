"""The server's one clock: wall time, monotonic time and sleeping, together, so a test replaces all three
at once (tests/fake_time.py) instead of patching each place that reads time.

The runtime holds it (`Runtime.clock`). Each tool call reads `now()` once (CallContext.now, for schedule
checks and reconciliation windows) and sleeps through it while following a job; the API client sleeps
through it between retries; the limiter and the guard made by `Runtime.create` read it too.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import anyio


class Clock:
    """Real time. Subclassed by the test fakes; nothing else keeps time."""

    def now(self) -> datetime:
        """Wall time, timezone-aware UTC."""
        return datetime.now(UTC)

    def timestamp(self) -> float:
        """Wall time in seconds since the epoch (token expiry)."""
        return self.now().timestamp()

    def monotonic(self) -> float:
        """Seconds that never go back (pacing)."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


SYSTEM_CLOCK = Clock()
