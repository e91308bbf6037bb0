"""In-process transport that fails like a network would.

`sandbox_transport(app)` is an `httpx2.ASGITransport` whose request handling maps the sandbox's
injected faults onto the errors a real network produces:

* fault "connect_error": `httpx2.ConnectError`, raised before the app sees anything;
* fault "drop" / "drop_after_commit": the app raises a private exception -> `httpx2.RemoteProtocolError`;
* a response slower than the request's read timeout (fault "delay") -> `httpx2.ReadTimeout`.

The ASGI call itself mirrors httpx2's ASGITransport, with an anyio event (httpx2 probes for trio
on every request, which costs more than the sandbox's own work)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

import anyio
import httpx2

if TYPE_CHECKING:
    from .app import Sandbox


class SandboxTransport(httpx2.ASGITransport):
    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        # Imported and looked up per request, not when the transport is made: the embedded sandbox is
        # imported and made on its first request (sandbox/on_first_use.py), not at server start.
        from .app import ConnectFault, DroppedConnection

        sb: Sandbox | None = getattr(getattr(self.app, "state", None), "sandbox", None)
        if sb is not None:
            rule = sb.faults.take(request.method, request.url.path, actions=("connect_error",))
            if rule is not None:
                entry = sb._record(request.method, request.url.path, request.url.query.decode(),
                                   request.headers.get("x-api-key"), request.headers.get("x-team-id"))
                entry["fault"] = "connect_error"
                raise httpx2.ConnectError("Injected connect error (sandbox fault)", request=request)
        timeout = (request.extensions.get("timeout") or {}).get("read")
        try:
            if timeout is None:
                return await self._call(request)
            with anyio.fail_after(timeout):
                return await self._call(request)
        except TimeoutError:
            raise httpx2.ReadTimeout("Sandbox response slower than the read timeout", request=request) from None
        except (DroppedConnection, ConnectFault) as exc:
            raise httpx2.RemoteProtocolError("Server disconnected without sending a response.", request=request) from exc

    async def _call(self, request: httpx2.Request) -> httpx2.Response:
        body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for (k, v) in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port),
            "client": self.client,
            "root_path": self.root_path,
        }
        sent_body = False
        done = anyio.Event()
        status: int | None = None
        headers: list[Any] = []
        parts: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if sent_body:
                await done.wait()
                return {"type": "http.disconnect"}
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                if message.get("body") and request.method != "HEAD":
                    parts.append(message["body"])
                if not message.get("more_body", False):
                    done.set()

        await self.app(scope, receive, send)
        assert status is not None
        return httpx2.Response(status, headers=headers, content=b"".join(parts))


def sandbox_transport(app: Any) -> httpx2.AsyncBaseTransport:
    return SandboxTransport(app)
