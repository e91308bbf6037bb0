"""Route declaration shared by the endpoint groups.

A route also declares the calls that show it keeps the contract: `example=` answers with the documented
success status and fields, and `errors=` gives, per documented error code, a call that gets that code.
They sit on the route so that adding an endpoint is one edit here; tests/sandbox/test_contract.py runs
them, and names this route's module when a documented example or code has no call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# An id no seeded or created object has: what a NOT_FOUND call puts in the path or the body.
MISSING = str(uuid.UUID(int=1))


@dataclass(frozen=True)
class Made:
    """A field of what the call's last `first` request answered: "jobId" is its data.jobId, and a dotted
    path walks lists ("messages.0.id")."""

    field: str


@dataclass(frozen=True)
class Req:
    """A request sent before the call, to put the sandbox in the state it needs (path after /api/v1;
    {id} is the call's own id)."""

    method: str
    path: str
    body: Any = None


@dataclass(frozen=True)
class Call:
    """A request to the route, with the state it needs; every field is optional.

    id fills the path's parameter ({id}, {jobId}, ...); body is the JSON body; query is appended after "?";
    account is posted to /_sandbox/account first (a plan, a usage figure); first are requests sent before it;
    clock is how many seconds the sandbox clock moves before it; fault=True injects the error code through
    the faults API, for the codes only the real provider or team permissions produce.
    """

    body: Any = None
    id: str | Made | None = None
    query: str = ""
    account: Mapping[str, Any] | None = None
    first: tuple[Req, ...] = ()
    clock: float = 0
    fault: bool = False


# The most common trigger: NOT_FOUND for an object that does not exist.
UNKNOWN = Call(id=MISSING)


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str  # full path with {param} placeholders, as in endpoints.json
    handler: Callable[..., Any]
    status: int = 200
    example: Call = Call()
    errors: Mapping[str, Call] = field(default_factory=lambda: MappingProxyType({}))


def route(
    table: list[RouteSpec], method: str, path: str, status: int = 200, *,
    example: Call | None = None, errors: Mapping[str, Call] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        table.append(RouteSpec(method, "/api/v1" + path, fn, status, example or Call(),
                               MappingProxyType(dict(errors or {}))))
        return fn

    return deco
