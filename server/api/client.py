"""The MsgFlash HTTP client: one `httpx2.AsyncClient` per process, shared by every tool call.

It owns everything between a tool and the wire: the key for the route (as the call's bound credentials
decide it: personal-only routes always carry the personal key), percent-encoding path parameters, taking
a rate-limit slot for every attempt, the retry policy by effect, unwrapping the `data` envelope and
mapping error envelopes to `ApiError`. Keys travel in headers only; they never appear in a URL or a log line.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import anyio
import httpx2

from ..core.credentials import Credentials, Workspace
from ..core.errors import ApiError, NotSent, OutcomeUnknown, RateLimited
from ..redact import remember_returned_secrets
from ..wire import json_list, json_object
from .retry import NEVER_SENT, RetryClass, RetryPolicy, Verdict, parse_retry_after
from .route import Route

log = logging.getLogger("msgflash_mcp.api")

USER_AGENT = "msgflash-mcp/0.1"
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def given(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields given, in order: None means omitted (a body keeps the current value, a query no filter)."""
    return {key: value for key, value in fields.items() if value is not None}


def expand(route: Route, path: dict[str, str] | None) -> str:
    """Fill a route template. Every value is one opaque path segment: `../billing` can't change the route."""
    values = path or {}
    missing = [name for name in route.params if not values.get(name)]
    if missing:
        raise ValueError(f"{route} needs {', '.join(missing)}")
    url = route.path
    for name in route.params:
        value = str(values[name])
        if not _SAFE_SEGMENT.fullmatch(value):
            # Tools validate ids as UUIDs at the edge; this is defence in depth for anything else.
            raise ApiError(404, "NOT_FOUND", f"{name} {quote(value, safe='')[:80]!r} is not a valid id")
        url = url.replace("{" + name + "}", quote(value, safe=""))
    return url


class ApiClient:
    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        policy: RetryPolicy | None = None,
        deadline: float = 60.0,
        sleep: Any = anyio.sleep,
    ) -> None:
        # Pacing is not here: the client's transport (ratelimit.RateLimitedTransport) takes a slot
        # for every attempt right before it goes on the wire, and pauses the key on a 429.
        self._http = http
        self._policy = policy or RetryPolicy()
        self._deadline = deadline
        self._sleep = sleep

    async def request(
        self,
        route: Route,
        workspace: Workspace,
        *,
        path: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        url = expand(route, path)
        params = given(query or {})
        retry_class = route.retry_class
        sent = False  # did any attempt possibly reach the API?
        try:
            with anyio.fail_after(self._deadline):
                retries = 0
                while True:
                    error: ApiError | None = None
                    failure: httpx2.TransportError | None = None
                    started = time.perf_counter()
                    try:
                        sent = True
                        response = await self._http.request(
                            route.method, url, params=params, json=json, headers=workspace.headers()
                        )
                    except httpx2.TransportError as exc:
                        failure = exc
                        sent = sent and not isinstance(exc, NEVER_SENT)
                    else:
                        elapsed = (time.perf_counter() - started) * 1000
                        log.debug("%s -> %s in %.1f ms (%s)", route, response.status_code, elapsed, workspace.kind)
                        if response.status_code < 400:
                            data = _data(response, route)
                            remember_returned_secrets(data)  # a webhook's signing secret: never in a log
                            return data
                        error = _error(response)
                    decision = self._policy.decide(
                        retry_class,
                        retries,
                        exc=failure,
                        status=error.status if error else None,
                        code=error.code if error else None,
                        retry_after=error.retry_after if isinstance(error, RateLimited) else None,
                    )
                    if decision.verdict is Verdict.RETRY:
                        retries += 1
                        log.info("%s: %s (retry %d)", route, decision.reason, retries)
                        await self._sleep(decision.delay)
                        continue
                    if decision.verdict is Verdict.OUTCOME_UNKNOWN:
                        raise OutcomeUnknown(f"{route} failed after the request was sent ({decision.reason})", _CHECK)
                    if error is not None:
                        raise error
                    if isinstance(failure, NEVER_SENT):
                        raise NotSent(f"could not reach MsgFlash ({type(failure).__name__})")
                    raise ApiError(502, "TRANSPORT_ERROR", f"{type(failure).__name__} talking to MsgFlash")
        except TimeoutError:
            if sent and retry_class is RetryClass.UNSAFE:
                raise OutcomeUnknown(f"{route} did not answer within {self._deadline:g} s", _CHECK) from None
            if not sent:
                raise NotSent(f"gave up after {self._deadline:g} s before the request could be sent") from None
            raise ApiError(504, "TIMEOUT", f"MsgFlash did not answer within {self._deadline:g} s") from None


_CHECK = "read the object back (or list recent ones) to see whether it was created"


def _data(response: httpx2.Response, route: Route) -> Any:
    if not response.content:
        return None
    try:
        body = response.json()
    except ValueError:
        if route.retry_class is RetryClass.UNSAFE:
            # The API said yes (2xx) to a mutating request: it was done, we just cannot show the result.
            # Reporting that as a failure would invite a retry that does it twice.
            raise OutcomeUnknown(
                f"{route} was accepted (HTTP {response.status_code}) but the answer could not be read, so it was "
                "most likely done",
                _CHECK,
            ) from None
        raise ApiError(502, "BAD_RESPONSE", "MsgFlash answered with something that is not JSON") from None
    envelope = json_object(body)
    return envelope.get("data", envelope) if envelope is not None else body


def error_fields(response: httpx2.Response) -> tuple[str | None, str | None, list[object]]:
    """`code`, `message` and `details` of an error envelope (REFERENCE §5.2); None or [] when absent
    or when the body is not that envelope (a proxy's HTML page). The body must have been read."""
    try:
        body = response.json()
    except ValueError:
        return None, None, []
    err = json_object((json_object(body) or {}).get("error"))
    if err is None:
        return None, None, []
    code, message = err.get("code"), err.get("message")
    return str(code) if code else None, str(message) if message else None, json_list(err.get("details")) or []


def _error(response: httpx2.Response) -> ApiError:
    code, message, details = error_fields(response)
    code = code or f"HTTP_{response.status_code}"
    message = message or response.reason_phrase or "error"
    if response.status_code == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return RateLimited(429, code, message, retry_after)
    return ApiError(response.status_code, code, message, details)


class Api:
    """What a tool function receives: its own route, bound to the credentials the call resolved to.
    Which key each request carries is the credentials' decision (`Credentials.for_route`), for the own
    route as for any other a tool reads (a send's preview reads the personal-only usage)."""

    def __init__(self, client: ApiClient, route: Route | None, credentials: Credentials) -> None:
        self._client = client
        self.route = route
        self._credentials = credentials
        # The workspace the call acts in is the credential its own route carries: decided now, so a missing
        # personal key fails the binding before anything is planned. None only for the server's own tools.
        self.workspace: Workspace | None = None if route is None else self.credential_for(route)

    @property
    def label(self) -> str:
        return self._credentials.label(self.workspace)

    def credential_for(self, route: Route) -> Workspace:
        return self._credentials.for_route(route.personal_only)

    async def __call__(
        self, *, path: dict[str, str] | None = None, query: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        if self.route is None:
            raise RuntimeError("this tool has no route")
        return await self.call(self.route, path=path, query=query, json=json)

    async def call(
        self,
        route: Route,
        *,
        path: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        return await self._client.request(route, self.credential_for(route), path=path, query=query, json=json)
