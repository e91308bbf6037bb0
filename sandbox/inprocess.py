"""In-process transport that fails like a network would (see the fault actions in control.py)."""

from __future__ import annotations

import anyio
import httpx2

from .app import ConnectFault, DroppedConnection, Sandbox


class SandboxTransport(httpx2.AsyncBaseTransport):
    def __init__(self, app: object) -> None:
        self._inner = httpx2.ASGITransport(app=app)  # type: ignore[arg-type]
        self._sandbox: Sandbox | None = getattr(getattr(app, "state", None), "sandbox", None)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        sb = self._sandbox
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
                return await self._inner.handle_async_request(request)
            with anyio.fail_after(timeout):
                response = await self._inner.handle_async_request(request)
                await response.aread()
                return response
        except TimeoutError:
            raise httpx2.ReadTimeout("Sandbox response slower than the read timeout", request=request) from None
        except (DroppedConnection, ConnectFault) as exc:
            raise httpx2.RemoteProtocolError("Server disconnected without sending a response.", request=request) from exc

    async def aclose(self) -> None:
        await self._inner.aclose()


def sandbox_transport(app: object) -> httpx2.AsyncBaseTransport:
    return SandboxTransport(app)
