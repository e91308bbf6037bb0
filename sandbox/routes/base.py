"""Route declaration shared by the endpoint groups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str  # full path with {param} placeholders, as in endpoints.json
    handler: Callable[..., Any]
    status: int = 200


def route(table: list[RouteSpec], method: str, path: str, status: int = 200) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        table.append(RouteSpec(method, "/api/v1" + path, fn, status))
        return fn

    return deco
