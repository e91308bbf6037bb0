"""Retry policy: the classification table, Retry-After parsing, backoff bounds, decide()."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgflash_mcp.server.api.retry import (
    RATE_LIMIT_CODE,
    RetryClass,
    RetryPolicy,
    Verdict,
    classify,
    is_rate_limit,
    parse_retry_after,
)

SAFE, UNSAFE = RetryClass.SAFE, RetryClass.UNSAFE
RETRY, FAIL, UNKNOWN = Verdict.RETRY, Verdict.FAIL, Verdict.OUTCOME_UNKNOWN

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _exc(cls: type[Exception]) -> Exception:
    return cls("boom")


# --- classification (threat model §3.2, no idempotency keys) ---------------------------------

EXCEPTION_TABLE: list[tuple[Exception, Verdict, Verdict]] = [
    # never left this process: retry whatever the effect
    (_exc(httpx2.ConnectError), RETRY, RETRY),
    (_exc(httpx2.ConnectTimeout), RETRY, RETRY),
    (_exc(httpx2.PoolTimeout), RETRY, RETRY),
    # may have reached the API: reads retry, writes must not be repeated
    (_exc(httpx2.ReadTimeout), RETRY, UNKNOWN),
    (_exc(httpx2.WriteTimeout), RETRY, UNKNOWN),
    (_exc(httpx2.ReadError), RETRY, UNKNOWN),
    (_exc(httpx2.WriteError), RETRY, UNKNOWN),
    (_exc(httpx2.RemoteProtocolError), RETRY, UNKNOWN),
    (_exc(httpx2.LocalProtocolError), RETRY, UNKNOWN),
    (_exc(httpx2.CloseError), RETRY, UNKNOWN),
    (_exc(httpx2.ProxyError), RETRY, UNKNOWN),
    (_exc(httpx2.TransportError), RETRY, UNKNOWN),
    # a bad URL: nothing sent, nothing transient
    (_exc(httpx2.UnsupportedProtocol), FAIL, FAIL),
    # anything else: do not retry, and a write cannot be declared "not sent"
    (_exc(httpx2.DecodingError), FAIL, UNKNOWN),
    (RuntimeError("bug"), FAIL, UNKNOWN),
]


@pytest.mark.parametrize(("exc", "safe", "unsafe"), EXCEPTION_TABLE, ids=lambda v: type(v).__name__)
def test_exceptions_are_classified_by_whether_the_request_may_have_arrived(
    exc: Exception, safe: Verdict, unsafe: Verdict
) -> None:
    assert classify(SAFE, exc=exc) is safe
    assert classify(UNSAFE, exc=exc) is unsafe


STATUS_TABLE: list[tuple[int, str | None, Verdict, Verdict]] = [
    (429, RATE_LIMIT_CODE, RETRY, RETRY),
    (429, None, RETRY, RETRY),  # a 429 is a rejection, whoever sent it
    (429, "MONTHLY_API_REQUEST_QUOTA_EXCEEDED", FAIL, FAIL),
    (429, "MONTHLY_OUTBOUND_QUOTA_EXCEEDED", FAIL, FAIL),
    (429, "SOME_FUTURE_QUOTA_EXCEEDED", FAIL, FAIL),
    (500, None, RETRY, UNKNOWN),
    (502, None, RETRY, UNKNOWN),
    (503, None, RETRY, UNKNOWN),
    (504, None, RETRY, UNKNOWN),
    (500, "INTERNAL_ERROR", RETRY, UNKNOWN),
    # documented refusals (REFERENCE §14, §17.1, §18): the API's answer, not doubt
    (502, "PROVIDER_ERROR", RETRY, FAIL),
    (502, "PROVIDER_UNAVAILABLE", RETRY, FAIL),
    (503, "PROVIDER_UNAVAILABLE", RETRY, FAIL),
    (502, "PROVIDER_TIMEOUT", RETRY, UNKNOWN),  # the provider may have acted before timing out
    (501, None, FAIL, UNKNOWN),
    (522, None, FAIL, UNKNOWN),
    (400, "VALIDATION_ERROR", FAIL, FAIL),
    (401, "UNAUTHORIZED", FAIL, FAIL),
    (403, "FORBIDDEN", FAIL, FAIL),
    (404, "NOT_FOUND", FAIL, FAIL),
    (408, None, FAIL, FAIL),
    (409, None, FAIL, FAIL),
    (422, None, FAIL, FAIL),
    (302, None, FAIL, FAIL),
]


@pytest.mark.parametrize(("status", "code", "safe", "unsafe"), STATUS_TABLE)
def test_statuses_are_classified_by_effect(status: int, code: str | None, safe: Verdict, unsafe: Verdict) -> None:
    assert classify(SAFE, status=status, code=code) is safe
    assert classify(UNSAFE, status=status, code=code) is unsafe


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, RATE_LIMIT_CODE, True),
        (429, None, True),  # a proxy's bare 429 is about pace too
        (429, "MONTHLY_API_REQUEST_QUOTA_EXCEEDED", False),
        (429, "MONTHLY_OUTBOUND_QUOTA_EXCEEDED", False),
        (429, "SOME_FUTURE_QUOTA_EXCEEDED", False),
        (503, RATE_LIMIT_CODE, False),
    ],
)
def test_only_a_pace_429_is_a_rate_limit(status: int, code: str | None, expected: bool) -> None:
    """The one fact behind both the retry verdict and the key's pause (RateLimitedTransport)."""
    assert is_rate_limit(status, code) is expected
    if status == 429:
        assert (classify(UNSAFE, status=status, code=code) is RETRY) is expected


def test_classify_takes_exactly_one_failure() -> None:
    with pytest.raises(TypeError):
        classify(SAFE)
    with pytest.raises(TypeError):
        classify(SAFE, exc=httpx2.ConnectError("x"), status=500)
    with pytest.raises(ValueError, match="not a failure"):
        classify(SAFE, status=200)


# --- Retry-After ---------------------------------------------------------------------------

RETRY_AFTER_TABLE: list[tuple[str | None, float | None]] = [
    (None, None),  # absent
    ("", None),
    ("   ", None),
    ("0", 0.0),
    ("2", 2.0),
    (" 7 ", 7.0),
    ("1.5", 1.5),  # not RFC 9110, but servers send it
    ("3600", 3600.0),  # huge: parsed, the policy refuses to wait that long
    ("-1", None),  # negative
    ("-0.5", None),
    ("abc", None),  # garbage
    ("5s", None),
    ("1e3", None),
    ("nan", None),
    ("inf", None),
    ("1_000", None),
    ("0x10", None),
    (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),  # HTTP-date
    ("Sun, 01 Mar 2026 12:00:45 GMT", 45.0),
    ("Sunday, 01-Mar-26 12:00:10 GMT", 10.0),  # obsolete RFC 850 form
    (format_datetime(NOW - timedelta(minutes=5), usegmt=True), 0.0),  # in the past: go now
    ("Sun, 01 Mar 2026 13:00:00 GMT", 3600.0),
    ("Sun, 99 Foo 2026 99:00:00 GMT", None),  # malformed date
]


@pytest.mark.parametrize(("header", "expected"), RETRY_AFTER_TABLE)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


def test_parse_retry_after_defaults_now_to_the_current_time() -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    parsed = parse_retry_after(soon)
    assert parsed is not None
    assert 18.0 <= parsed <= 20.0


@given(st.text(max_size=40))
def test_parse_retry_after_never_raises_and_never_goes_negative(header: str) -> None:
    parsed = parse_retry_after(header, now=NOW)
    assert parsed is None or parsed >= 0


# --- delay -----------------------------------------------------------------------------------


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(jitter=lambda: 1.0)
    assert [policy.delay(n, None) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert policy.delay(0, None) == 0.5  # "before the first retry" reads as the first retry
    assert policy.delay(10_000, None) == 8.0  # no overflow for absurd attempt numbers


@pytest.mark.parametrize("attempt", range(1, 9))
def test_jitter_keeps_the_delay_between_three_quarters_and_the_full_backoff(attempt: int) -> None:
    full = min(0.5 * 2 ** (attempt - 1), 8.0)
    for jitter in (0.75, 0.9, 1.0):
        assert RetryPolicy(jitter=lambda j=jitter: j).delay(attempt, None) == pytest.approx(full * jitter)
    default = RetryPolicy()
    for _ in range(200):
        assert 0.75 * full <= default.delay(attempt, None) <= full


def test_out_of_range_jitter_is_clamped() -> None:
    assert RetryPolicy(jitter=lambda: 5.0).delay(1, None) == 0.5
    assert RetryPolicy(jitter=lambda: -1.0).delay(1, None) == 0.0


def test_retry_after_replaces_the_backoff_up_to_the_cap() -> None:
    policy = RetryPolicy(jitter=lambda: 1.0)
    assert policy.delay(1, 2.0) == 2.0
    assert policy.delay(4, 0.25) == 0.25  # the server's word wins, even below our backoff
    assert policy.delay(2, 60.0) == 60.0
    assert policy.delay(2, 0.0) == 1.0  # "0" carries no information: normal backoff
    with pytest.raises(ValueError, match="cap"):
        policy.delay(1, 61.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"base_delay": -1},
        {"base_delay": 9, "max_delay": 8},
        {"max_delay": math.inf},
        {"max_retry_after": -1},
    ],
)
def test_invalid_policies_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # pyright: ignore[reportArgumentType]


# --- decide ----------------------------------------------------------------------------------


def test_decide_retries_within_budget_then_gives_up() -> None:
    policy = RetryPolicy(max_retries=2, jitter=lambda: 1.0)
    first = policy.decide(SAFE, 0, status=503)
    assert (first.verdict, first.delay) == (RETRY, 0.5)
    assert policy.decide(SAFE, 1, status=503).delay == 1.0
    last = policy.decide(SAFE, 2, status=503)
    assert last.verdict is FAIL
    assert "2 retries" in last.reason


def test_decide_honours_retry_after_on_a_rate_limit() -> None:
    policy = RetryPolicy(jitter=lambda: 1.0)
    decision = policy.decide(UNSAFE, 0, status=429, code=RATE_LIMIT_CODE, retry_after=1.0)
    assert (decision.verdict, decision.delay) == (RETRY, 1.0)


@pytest.mark.parametrize("retry_after", [60.5, 3600.0, math.inf])
def test_decide_fails_fast_when_asked_to_wait_beyond_the_cap(retry_after: float) -> None:
    decision = RetryPolicy().decide(SAFE, 0, status=429, code=RATE_LIMIT_CODE, retry_after=retry_after)
    assert decision.verdict is FAIL
    assert "asks to wait" in decision.reason


def test_decide_never_retries_a_write_that_may_have_landed() -> None:
    policy = RetryPolicy(max_retries=5)
    for failure in ({"status": 500}, {"status": 504}, {"exc": httpx2.ReadTimeout("slow")}):
        decision = policy.decide(UNSAFE, 0, **failure)  # pyright: ignore[reportArgumentType]
        assert decision.verdict is UNKNOWN
        assert "may have reached" in decision.reason


def test_decide_never_retries_a_quota_error_or_a_client_error() -> None:
    policy = RetryPolicy()
    assert policy.decide(SAFE, 0, status=429, code="MONTHLY_OUTBOUND_QUOTA_EXCEEDED", retry_after=1).verdict is FAIL
    assert policy.decide(SAFE, 0, status=404, code="NOT_FOUND").verdict is FAIL


def test_zero_retries_policy() -> None:
    assert RetryPolicy(max_retries=0).decide(SAFE, 0, exc=httpx2.ConnectError("refused")).verdict is FAIL
