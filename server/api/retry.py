"""Retry policy by effect: retry what cannot have had an effect, never blindly repeat what may have.

MsgFlash documents no idempotency keys, so a mutating request that may have reached the API (a
timeout after sending, a dropped connection, a 5xx) is never retried: the caller reconciles (for
sends: looks for the message it may have created) or reports "outcome unknown". Reads, and
failures that provably never reached the API (connect errors, 429 ``API_RATE_LIMIT_EXCEEDED``),
are retried with capped, jittered exponential backoff. Monthly quota errors are never retried.
A 5xx that carries an error code the reference documents as a refusal (``REJECTION_CODES``) is the
API's own answer, not doubt: a mutating call reports it as a rejection with its advice.

The table (threat model §3.2, "maybe" rows read as "do not retry" because there are no keys):

=====================================================  ==========  ================
failure                                                SAFE        UNSAFE
=====================================================  ==========  ================
ConnectError, ConnectTimeout, PoolTimeout              RETRY       RETRY
429 API_RATE_LIMIT_EXCEEDED (or no/unknown code)       RETRY       RETRY
429 MONTHLY_* / *_QUOTA_EXCEEDED                       FAIL        FAIL
ReadTimeout, WriteTimeout, ReadError, WriteError,      RETRY       OUTCOME_UNKNOWN
RemoteProtocolError, other TransportError
5xx with a REJECTION_CODES code (PROVIDER_ERROR...)    as 5xx      FAIL
500, 502, 503, 504                                     RETRY       OUTCOME_UNKNOWN
other 5xx (501, 505, 52x...)                           FAIL        OUTCOME_UNKNOWN
other 3xx/4xx                                          FAIL        FAIL
UnsupportedProtocol (bad URL: nothing was sent)        FAIL        FAIL
any other exception (we cannot tell what was sent)     FAIL        OUTCOME_UNKNOWN
=====================================================  ==========  ================

``RetryPolicy.decide`` combines the table with the retry budget and ``Retry-After``: a server
asking for a longer wait than ``max_retry_after`` fails fast (the tool returns a readable error)
instead of sleeping inside a tool call.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum

import httpx2

__all__ = [
    "NEVER_SENT",
    "RATE_LIMIT_CODE",
    "REJECTION_CODES",
    "Decision",
    "RetryClass",
    "RetryPolicy",
    "Verdict",
    "classify",
    "is_rate_limit",
    "parse_retry_after",
]

RATE_LIMIT_CODE = "API_RATE_LIMIT_EXCEEDED"

# 5xx error codes that are the API's verdict on the request, documented in REFERENCE §18 (and for
# number lookups §17.1, statuses §14): the WhatsApp provider refused it (PROVIDER_ERROR) or could
# not be reached (PROVIDER_UNAVAILABLE), so nothing was done. PROVIDER_TIMEOUT and INTERNAL_ERROR
# are not here: the provider or the API may have acted before failing, which is doubt.
REJECTION_CODES = frozenset({"PROVIDER_ERROR", "PROVIDER_UNAVAILABLE"})

_MAYBE_PROCESSED_5XX = frozenset({500, 502, 503, 504})
# Transport failures that prove the request never left: retrying them can't duplicate anything.
# The one definition (the API client reads it too, to tell NotSent from doubt).
NEVER_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
_DELAY_SECONDS = re.compile(r"\d+(?:\.\d+)?")


class RetryClass(Enum):
    """How a request may be retried; derived from the tool's effect, not guessed per call."""

    SAFE = "safe"
    """Reads (GET): repeating them changes nothing, so retry anything transient."""
    UNSAFE = "unsafe"
    """POST/PUT/DELETE that may have effects: retry only what provably never reached the API."""


class Verdict(Enum):
    RETRY = "retry"
    """Transient, and repeating it cannot duplicate an effect."""
    FAIL = "fail"
    """Not retried; the API did not act (or, for reads, it does not matter)."""
    OUTCOME_UNKNOWN = "outcome_unknown"
    """A mutating request may have taken effect: do not repeat it, reconcile or tell the model."""


def _is_quota_code(code: str) -> bool:
    return code.startswith("MONTHLY_") or code.endswith("_QUOTA_EXCEEDED")


def is_rate_limit(status: int, code: str | None) -> bool:
    """A 429 for going too fast (``API_RATE_LIMIT_EXCEEDED``, or a 429 naming no quota): retried after
    a pause, and the only 429 that pauses the key's schedule. A monthly quota 429 is neither: waiting
    a second does not bring a quota back."""
    return status == 429 and not (code and _is_quota_code(code))


def classify(
    retry_class: RetryClass,
    *,
    exc: BaseException | None = None,
    status: int | None = None,
    code: str | None = None,
) -> Verdict:
    """Classify one failed attempt: either the exception it raised or its error status (+ code)."""
    if (exc is None) == (status is None):
        raise TypeError("classify() takes exactly one of exc= or status=")
    maybe = Verdict.RETRY if retry_class is RetryClass.SAFE else Verdict.OUTCOME_UNKNOWN
    if exc is not None:
        if isinstance(exc, NEVER_SENT):
            return Verdict.RETRY
        if isinstance(exc, httpx2.UnsupportedProtocol):
            return Verdict.FAIL  # a configuration error: nothing was sent and retrying cannot help
        if isinstance(exc, httpx2.TransportError):
            return maybe  # the request may have left, in full, before the failure
        # Anything else (a decoding error after the response arrived, a bug): not worth retrying,
        # and for a mutating request we cannot claim it did not happen.
        return Verdict.FAIL if retry_class is RetryClass.SAFE else Verdict.OUTCOME_UNKNOWN
    assert status is not None
    if status < 300:
        raise ValueError(f"status {status} is not a failure")
    if status == 429:
        # 429 means rejected before processing. Quotas do not come back within a retry budget.
        return Verdict.RETRY if is_rate_limit(status, code) else Verdict.FAIL
    if status >= 500 and code in REJECTION_CODES and retry_class is RetryClass.UNSAFE:
        return Verdict.FAIL  # documented refusal: nothing happened, and repeating it now will not help
    if status in _MAYBE_PROCESSED_5XX:
        return maybe
    if status >= 500:
        # 501/505 are not transient; 52x from a proxy may or may not have reached the origin.
        return Verdict.FAIL if retry_class is RetryClass.SAFE else Verdict.OUTCOME_UNKNOWN
    return Verdict.FAIL


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or None when absent or unusable.

    Accepts delta-seconds (``"2"``, also ``"1.5"`` as some servers send) and an HTTP-date (a date
    in the past means "now": 0.0). Negative, non-numeric, NaN/inf spellings and malformed dates
    give None. Large values are returned as they are: the policy decides they are too long.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELAY_SECONDS.fullmatch(text):
        return float(text)  # may be inf for absurdly long digit strings: "too long", not garbage
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # RFC 9110 dates are GMT; a "-0000" zone parses naive
    current = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def _default_jitter() -> float:
    return random.uniform(0.75, 1.0)


@dataclass(frozen=True)
class Decision:
    """What to do after a failed attempt."""

    verdict: Verdict
    delay: float = 0.0
    """Seconds to wait before the next attempt (only meaningful for RETRY)."""
    reason: str = ""
    """Short, secret-free explanation for logs and for the error shown to the model."""


@dataclass(frozen=True)
class RetryPolicy:
    """Retry budget and backoff (Stainless-style: 0.5 s doubling to 8 s, times a 0.75-1 jitter)."""

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    jitter: Callable[[], float] = field(default=_default_jitter, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if not (0 <= self.base_delay <= self.max_delay) or not math.isfinite(self.max_delay):
            raise ValueError("need 0 <= base_delay <= max_delay < inf")
        if not (math.isfinite(self.max_retry_after) and self.max_retry_after >= 0):
            raise ValueError("max_retry_after must be a finite number of seconds >= 0")

    def retry_after_too_long(self, retry_after: float | None) -> bool:
        """True when the server asks for a longer wait than we are willing to sleep in a call."""
        return retry_after is not None and retry_after > self.max_retry_after

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first retry).

        A positive ``Retry-After`` within ``max_retry_after`` is used as given; otherwise
        ``min(base_delay * 2**(attempt - 1), max_delay)`` times the jitter factor (clamped to
        [0, 1]), so never above ``max(max_delay, max_retry_after)``. A ``retry_after`` above the
        cap is a caller error (``decide`` fails fast instead of sleeping): ValueError.
        """
        if self.retry_after_too_long(retry_after):
            raise ValueError(f"Retry-After {retry_after} s is above the {self.max_retry_after} s cap")
        if retry_after is not None and retry_after > 0:
            return retry_after
        exponent = min(max(attempt - 1, 0), 64)  # 64: 2**64 * base is past any sane max_delay
        backoff = min(self.base_delay * 2.0**exponent, self.max_delay)
        return backoff * min(max(self.jitter(), 0.0), 1.0)

    def decide(
        self,
        retry_class: RetryClass,
        retries: int,
        *,
        exc: BaseException | None = None,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> Decision:
        """``classify`` plus the retry budget and the Retry-After cap, for one failed attempt.

        ``retries`` is how many retries were already made (0 when the original attempt failed).
        """
        verdict = classify(retry_class, exc=exc, status=status, code=code)
        what = type(exc).__name__ if exc is not None else f"HTTP {status}" + (f" {code}" if code else "")
        if verdict is Verdict.OUTCOME_UNKNOWN:
            return Decision(verdict, reason=f"{what}: the request may have reached the API")
        if verdict is Verdict.FAIL:
            return Decision(verdict, reason=f"{what}: not retryable")
        if self.retry_after_too_long(retry_after):
            return Decision(
                Verdict.FAIL,
                reason=f"{what}: the API asks to wait {retry_after:.0f} s, more than the {self.max_retry_after:.0f} s "
                "a call may wait",
            )
        if retries >= self.max_retries:
            return Decision(Verdict.FAIL, reason=f"{what}: still failing after {self.max_retries} retries")
        return Decision(Verdict.RETRY, delay=self.delay(retries + 1, retry_after), reason=f"{what}: retrying")
