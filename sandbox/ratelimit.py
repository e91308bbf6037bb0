"""Per-key request rate limit on an injectable monotonic clock: GCRA with a burst tolerance, or fixed
one-second windows.  Rejected requests do not move the schedule."""

from __future__ import annotations

import math
from collections.abc import Callable


class RateLimiter:
    def __init__(self, rate: float, mode: str, burst: int, monotonic: Callable[[], float]) -> None:
        self.rate = rate
        self.mode = mode
        self.burst = max(1, burst)
        self.monotonic = monotonic
        self._tat: dict[str, float] = {}
        self._windows: dict[str, tuple[int, int]] = {}

    def reset(self) -> None:
        self._tat.clear()
        self._windows.clear()

    def check(self, key: str) -> float | None:
        """None when allowed (and recorded), else seconds to wait."""
        if self.rate <= 0:
            return None
        now = self.monotonic()
        if self.mode == "fixed":
            window = math.floor(now)
            start, count = self._windows.get(key, (window, 0))
            if start != window:
                count = 0
            if count >= self.rate:
                return max(window + 1 - now, 1e-3)
            self._windows[key] = (window, count + 1)
            return None
        interval = 1.0 / self.rate
        tat = max(self._tat.get(key, now), now)
        new_tat = tat + interval
        allow_at = new_tat - self.burst * interval
        if allow_at > now + 1e-9:
            return allow_at - now
        self._tat[key] = new_tat
        if len(self._tat) > 10000:  # forget idle keys
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        return None


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
