"""Argument validation errors the model can act on: which argument, what to change, and no library URLs.

The SDK validates a call's arguments before any of our code runs and reports a failure as pydantic's own
text ("1 validation error for send_messageArguments ... For further information visit
https://errors.pydantic.dev/..."). `ReadableArgumentsTool` rewrites exactly that failure, one line per
argument, and keeps the ValidationError as the cause so the SDK still logs the field names (never values).
"""

from __future__ import annotations

import re
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools.base import Tool
from pydantic import ValidationError
from pydantic_core import ErrorDetails

MAX_SHOWN_INPUT = 40
# Pydantic names union members and validator wrappers in `loc` ("function-after[...]", "str"): not arguments.
_MEMBER_TAG = re.compile(r"^(?:str|int|float|bool|list|dict|none|.*\[.*\])$")


def _where(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not _MEMBER_TAG.match(part):
            path += f".{part}" if path else part
    return path or "arguments"


def _fix(error: ErrorDetails, described: str | None) -> str:
    """What the value must be, in words (pydantic's message, rephrased where it helps)."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind in {"extra_forbidden", "unexpected_keyword_argument"}:
        return "is not an argument of this tool: drop it"
    if kind == "string_too_short" and "min_length" in ctx:
        return f"needs at least {ctx['min_length']} character(s)"
    if kind == "string_too_long" and "max_length" in ctx:
        return f"allows at most {ctx['max_length']} character(s)"
    if kind == "too_short" and "min_length" in ctx:
        return f"needs at least {ctx['min_length']} item(s)"
    if kind == "too_long" and "max_length" in ctx:
        return f"allows at most {ctx['max_length']} item(s)"
    if kind == "string_pattern_mismatch":
        return f"must be: {described}" if described else f"does not have the expected form (pattern {ctx.get('pattern')})"
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return re.sub(r"^Input should\b", "must", message)


def _shown(error: ErrorDetails) -> str:
    """The rejected value, short, so the model sees what it sent (its own data: no secrets pass here)."""
    value: Any = error.get("input")
    if error["type"] == "missing" or isinstance(value, dict | list):
        return ""
    text = repr(value)
    return f" (got {text if len(text) <= MAX_SHOWN_INPUT else text[: MAX_SHOWN_INPUT - 3] + '...'})"


def _joined(lines: list[str]) -> str:
    """A union's alternatives read as one rule: 'must be a valid string or a valid integer'."""
    first, *rest = lines
    return " or ".join([first, *(line.removeprefix("must be ") for line in rest)])


def readable_validation_error(tool: str, exc: ValidationError, schema: dict[str, Any] | None = None) -> str:
    """`list_payments`: 'Invalid arguments for list_payments, nothing was done: `limit` must be ... (got 0).'

    `schema` is the tool's input schema: an argument's description says what a pattern means in words.
    """
    properties: dict[str, Any] = (schema or {}).get("properties") or {}
    problems: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        where = _where(error["loc"])
        prop: dict[str, Any] = properties.get(where) or {}
        described: str | None = prop.get("description")
        line = _fix(error, described) + _shown(error)
        if line not in problems.setdefault(where, []):
            problems[where].append(line)
    listed = "; ".join(f"`{where}` {_joined(lines)}" for where, lines in problems.items())
    return f"Invalid arguments for {tool}, nothing was done: {listed}. Correct them and call again."


class ReadableArgumentsTool(Tool):
    """An SDK Tool whose argument-validation failures read as a fix, not as pydantic's report."""

    async def run(self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False) -> Any:
        try:
            return await super().run(arguments, context, convert_result)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            raise ToolError(readable_validation_error(self.name, cause, self.parameters)) from cause
