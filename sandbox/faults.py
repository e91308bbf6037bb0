"""Fault injection rules for the control API."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, invalid

ACTIONS = ("status", "after_commit", "delay", "drop", "drop_after_commit", "connect_error")


@dataclass
class FaultRule:
    action: str
    method: str = "*"
    path: str = "*"
    count: int | None = 1  # None = forever
    status: int = 500
    code: str = "INTERNAL_ERROR"
    message: str | None = None
    retry_after: float | None = None
    seconds: float = 0.0
    after_commit: bool = False  # for "delay": wait after the request was performed

    def matches(self, method: str, path: str) -> bool:
        if self.method not in ("*", method.upper()):
            return False
        return self.path == path or fnmatch.fnmatchcase(path, self.path)

    def error(self) -> ApiError:
        headers = {"Retry-After": str(max(1, round(self.retry_after)))} if self.retry_after is not None else {}
        return ApiError(self.code, self.message or _message(self.code), status=self.status, headers=headers)

    def describe(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _message(code: str) -> str:
    if code == "API_RATE_LIMIT_EXCEEDED":
        return "Too many API requests"
    return "Injected fault: " + code


_FIELDS = {"action", "method", "path", "count", "status", "code", "message", "retry_after", "seconds", "after_commit"}


def parse_rules(body: Any) -> list[FaultRule]:
    items = body if isinstance(body, list) else body.get("rules", [body]) if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise invalid([{"field": "body", "message": "Expected a rule object or a list of rules"}])
    rules = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or item.get("action") not in ACTIONS:
            raise invalid([{"field": f"[{i}].action", "message": "One of " + ", ".join(ACTIONS)}])
        unknown = set(item) - _FIELDS
        if unknown:
            raise invalid([{"field": f"[{i}].{sorted(unknown)[0]}", "message": "Unknown field"}])
        try:
            kwargs: dict[str, Any] = {k: v for k, v in item.items() if v is not None or k == "count"}
            rule = FaultRule(**kwargs)
            rule.method = str(rule.method).upper()
            rule.status = int(rule.status)
            rule.seconds = float(rule.seconds)
        except (TypeError, ValueError) as exc:
            raise invalid([{"field": f"[{i}]", "message": str(exc)}]) from None
        rules.append(rule)
    return rules


class Faults:
    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def add(self, rules: list[FaultRule]) -> None:
        self.rules.extend(rules)

    def clear(self) -> None:
        self.rules.clear()

    def take(self, method: str, path: str, actions: tuple[str, ...] | None = None) -> FaultRule | None:
        for rule in self.rules:
            if actions is not None and rule.action not in actions:
                continue
            if rule.matches(method, path):
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self.rules.remove(rule)
                return rule
        return None
