"""A settable wall clock: the injected (or real) time plus an offset moved by the control API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def _real_now() -> datetime:
    return datetime.now(UTC)


class SandboxClock:
    def __init__(self, base: Callable[[], datetime] | None = None) -> None:
        self._base = base or _real_now
        self._offset = 0.0

    def now(self) -> datetime:
        n = self._base()
        if n.tzinfo is None:
            n = n.replace(tzinfo=UTC)
        return n + timedelta(seconds=self._offset) if self._offset else n

    def timestamp(self) -> float:
        return self.now().timestamp()

    def advance(self, seconds: float) -> datetime:
        self._offset += float(seconds)
        return self.now()

    def set(self, when: datetime) -> datetime:
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        self._offset += (when - self.now()).total_seconds()
        return self.now()

    def reset(self) -> None:
        self._offset = 0.0
