"""A throwaway redis-server for the multi-process tests: ``redis_url`` (session scope).

Starts ``redis-server`` on a free loopback port with persistence off, waits until it answers
PING, and stops it when the session ends. ``tests/prepare.sh`` installs the binary in CI. On CI
(``CI`` set, as every CI service does) a missing binary or a server that will not start fails the
tests that need it, loudly: a broken Redis never turns into silently skipped tests there. On a
developer machine without the binary they skip, naming the command that installs it.

Use it with ``from tests.redis_server import redis_url`` in a test module or conftest (or list
``tests.redis_server`` in the root conftest's ``pytest_plugins`` to share one server).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["find_redis_server", "redis_url", "start_redis_server"]

_START_TIMEOUT = 10.0
INSTALL_HINT = "sudo apt-get install -y redis-server"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def start_redis_server(binary: str, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start redis-server on a free loopback port; retried because the port may be taken meanwhile."""
    log = workdir / "redis.log"
    for _ in range(3):
        port = _free_port()
        command = [
            binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(workdir),
            "--logfile", str(log),
        ]  # fmt: skip
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            if _ping(port):
                return proc, port
            time.sleep(0.05)
        _stop(proc)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise RuntimeError(f"redis-server did not start on 127.0.0.1; its log ends with:\n{tail}")


def find_redis_server() -> str:
    """The redis-server binary; without one, fail on CI and skip (saying how to install it) elsewhere."""
    binary = shutil.which("redis-server")
    if binary is None:
        reason = f"redis-server binary not found on PATH; install it with: {INSTALL_HINT} (tests/prepare.sh does, as root)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so the Redis tests must run: {reason}")
        pytest.skip(reason)
    return binary


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:<port>/0`` of a private redis-server that lives for the test session."""
    binary = find_redis_server()
    try:
        proc, port = start_redis_server(binary, tmp_path_factory.mktemp("redis"))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc)
