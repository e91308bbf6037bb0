"""Start the standalone sandbox (`msgflash-mcp sandbox`) on a free loopback port for a benchmark."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def standalone_sandbox(*args: str) -> Iterator[str]:
    """Yields the base URL; the process is always stopped. Extra args go to `msgflash-mcp sandbox`."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [str(BIN / "msgflash-mcp"), "sandbox", "--port", str(port), "--db", str(Path(tmp) / "sb.sqlite3"), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx2.get(url + "/_sandbox/ledger", timeout=1)
                    break
                except httpx2.TransportError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("standalone sandbox did not start") from None
                    time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
