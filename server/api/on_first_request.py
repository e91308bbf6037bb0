"""The socket transport to the real API, made when the first request is sent rather than at start-up.

Making an `httpx2.AsyncHTTPTransport` loads the system's trusted certificates into a fresh SSL context:
70-100 ms of CPU, spent when a connection opens, before `tools/list`, which sends no request (the
"API key" cold start of bench/latency.py). Making it has no await, so two first requests cannot make two.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx2


class TransportOnFirstRequest(httpx2.AsyncBaseTransport):
    def __init__(self, make: Callable[[], httpx2.AsyncBaseTransport]) -> None:
        self._make = make
        self._inner: httpx2.AsyncBaseTransport | None = None

    @property
    def made(self) -> bool:
        return self._inner is not None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._inner is None:
            self._inner = self._make()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()
