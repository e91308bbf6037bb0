"""The HTTP gate for per-tool scopes: a `tools/call` whose tool needs a scope the token lacks is answered
403 `insufficient_scope` naming that scope (RFC 6750 §3.1), the challenge MCP clients step up on. And the
SDK's own challenges (401 without a valid token, 403 without the baseline scope) get the `scope=` they lack:
the baseline, plus the scope of the tool asked for, so a client whose first request is that call (a
2026-07-28 client needs no handshake) signs in once with what it needs.

The SDK's own `required_scopes` is all-or-nothing and its challenges name no scope, hence this gate. It reads the
JSON-RPC body, which both protocol eras carry (the 2026-07-28 `Mcp-Name` header is absent on 2025-11-25,
and the SDK checks it against the body anyway), then hands the same bytes on. It sits inside the SDK's
authentication (it reads the verified token's scopes), and the call path checks again (`scopes.require`):
what this gate cannot read (an oversized or malformed body) still never runs without its scope.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..wire import json_object

MAX_READ = 1 << 20  # bytes of body the gate reads to find the tool; larger bodies go on to the call path's check


_HAS_SCOPE = re.compile(rb"(^|[\s,])scope=", re.IGNORECASE)


class ScopeGate:
    def __init__(
        self, app: ASGIApp, *, needed: Mapping[str, str], baseline: str, resource_metadata_url: str, path: str
    ) -> None:
        """`needed`: tool name -> the scope it needs; `baseline`: the scope every request needs."""
        self.app = app
        self._needed = needed
        self._baseline = baseline
        self._metadata = resource_metadata_url
        self._path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self._path:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, _naming(send, self._baseline))
            return
        body, tail = await _read(receive)
        wanted = self._needed.get(_tool_of(body) or "")
        user = scope.get("user")
        if isinstance(user, AuthenticatedUser) and wanted is not None and wanted not in user.scopes:
            await self._challenge(send, wanted)
            return
        named = " ".join(dict.fromkeys([self._baseline, *([wanted] if wanted else [])]))
        await self.app(scope, _replay(body, tail, receive), _naming(send, named))

    async def _challenge(self, send: Send, wanted: str) -> None:
        description = f"this tool needs the scope {wanted}"
        header = (f'Bearer error="insufficient_scope", scope="{wanted}", '
                  f'resource_metadata="{self._metadata}", error_description="{description}"')
        payload = json.dumps({"error": "insufficient_scope", "error_description": description}).encode()
        await send({"type": "http.response.start", "status": 403, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
            (b"www-authenticate", header.encode()),
        ]})
        await send({"type": "http.response.body", "body": payload})


def _naming(send: Send, scopes: str) -> Send:
    """`send`, adding `scope="<scopes>"` to a Bearer challenge (401/403) that names none."""

    async def named(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] in (401, 403):
            headers = [
                (key, value + f', scope="{scopes}"'.encode())
                if key.lower() == b"www-authenticate" and value.lower().startswith(b"bearer")
                and not _HAS_SCOPE.search(value) else (key, value)
                for key, value in message.get("headers", [])
            ]
            message = {**message, "headers": headers}
        await send(message)

    return named


async def _read(receive: Receive) -> tuple[bytes, Message | None]:
    """The body up to MAX_READ, and the message that ended reading early (a disconnect), if any."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunk: bytes = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), None
        if size > MAX_READ:
            return b"".join(chunks), {"type": "http.request", "body": b"", "more_body": True, "partial": True}


def _replay(body: bytes, tail: Message | None, receive: Receive) -> Receive:
    """A `receive` giving the app the body read so far, then the rest as it comes."""
    pending: list[Message] = []
    partial = tail is not None and tail.get("partial", False)
    pending.append({"type": "http.request", "body": body, "more_body": partial})
    if tail is not None and not partial:
        pending.append(tail)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def _tool_of(body: bytes) -> str | None:
    try:
        request: Any = json.loads(body)
    except ValueError:
        return None
    message = json_object(request)
    if message is None or message.get("method") != "tools/call":
        return None
    params = json_object(message.get("params")) or {}
    name = params.get("name")
    return name if isinstance(name, str) else None
