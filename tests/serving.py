"""ASGI apps served under uvicorn on real sockets, for tests that need real HTTP (OAuth clients, replicas, an
OTLP receiver): one place that starts them, waits for them, stops them and tidies up after them."""

from __future__ import annotations

import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import anyio
import uvicorn

START_TIMEOUT = 20.0


@asynccontextmanager
async def serving(*apps: tuple[Any, socket.socket], lifespan: Literal["on", "off"] = "on") -> AsyncIterator[None]:
    """Serves each (app, bound socket) until the block ends; enters the block once every server has started.

    Each uvicorn server installs its signal handlers over the one before and puts back what it found when it
    ends: servers ending in another order than they started would leave a stale handler installed, and
    sse-starlette, which finds "the" server through that handler, would end every later SSE stream of this
    process. So the handlers found here are put back here."""
    servers = [uvicorn.Server(uvicorn.Config(app, lifespan=lifespan, log_level="warning")) for app, _ in apps]
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        async with anyio.create_task_group() as tg:
            for server, (_, sock) in zip(servers, apps, strict=True):
                tg.start_soon(server.serve, [sock])
            try:
                with anyio.fail_after(START_TIMEOUT):
                    while not all(server.started for server in servers):  # noqa: ASYNC110 (uvicorn offers a flag)
                        await anyio.sleep(0.02)
                yield
            finally:
                for server in servers:
                    server.should_exit = True
    finally:
        for number, handler in handlers.items():
            if handler is not None:  # None: not set from Python, nothing to put back
                signal.signal(number, handler)
