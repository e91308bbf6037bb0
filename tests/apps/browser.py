"""A real browser as the MCP Apps host: Debian's Chromium (installed by tests/prepare.sh), driven by
Playwright, loads tests/apps/harness.html, which embeds a view through the ext-apps SDK's `AppBridge`.
The view's tool calls reach a real MCP client session (with the Apps extension) of a server wired to the
sandbox, run on an anyio portal thread, so the sandbox ledger referees what was sent.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx2
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client
from msgflash_mcp.sandbox.app import SandboxConfig, create_app
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.core.settings import Settings

from .conftest import apps_extension

# Debian's package puts `chromium` on PATH; MSGFLASH_CHROMIUM names another binary.
CHROMIUM = os.environ.get("MSGFLASH_CHROMIUM") or shutil.which("chromium") or "chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
HARNESS = Path(__file__).with_name("harness.html")
REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("MSGFLASH_ARTEFACTS", REPO / ".tmp" / "artefacts" / "apps"))
SCREENSHOTS = REPO / "docs" / "screenshots"  # committed copies for the README (UPDATE_SCREENSHOTS=1)


class Host:
    """One MCP session with the Apps extension, callable from the (synchronous) browser test thread."""

    def __init__(self, portal: BlockingPortal, client: Client, sandbox: Any) -> None:
        self.portal = portal
        self.client = client
        self.sandbox = sandbox

    def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = self.portal.call(self.client.call_tool, name, arguments)
        return result.model_dump(mode="json", by_alias=True, exclude_none=True)

    def read(self, uri: str) -> str:
        result = self.portal.call(self.client.read_resource, uri)
        return getattr(result.contents[0], "text", "")

    def control(self, path: str, body: dict[str, Any]) -> None:
        async def post() -> None:
            async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=self.sandbox), base_url="http://127.0.0.1") as http:
                response = await http.post(path, json=body)
                response.raise_for_status()

        self.portal.call(post)

    def writes(self, prefix: str) -> list[dict[str, Any]]:
        return [dict(e) for e in self.sandbox.state.sandbox.ledger if e.get("committed") and e["path"].startswith(prefix)]


@contextmanager
def host() -> Iterator[Host]:
    sandbox = create_app(SandboxConfig(db_path=":memory:", rate_limit=0))
    server = build_server(Settings(sandbox=True, sandbox_db=":memory:", rate_limit=0), sandbox_app=sandbox)
    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal())
        client = stack.enter_context(portal.wrap_async_context_manager(Client(server, extensions=[apps_extension()])))
        yield Host(portal, client, sandbox)


def show(
    page: Any, session: Host, *, uri: str, tool: str, arguments: dict[str, Any], result: dict[str, Any],
    theme: str | None, styles: dict[str, str] | None = None, server_tools: bool = True, drop_meta: bool = False,
) -> Any:
    """Load a view in the harness page with a tool's input and result; returns the view's frame.

    `theme=None` is a host that names no theme; `server_tools=False` one that cannot relay the view's tool
    calls; `drop_meta=True` one that does not pass the result's `_meta` to the view."""
    page.on("console", lambda message: print("console:", message.text))  # shown when a test fails
    page.goto(HARNESS.as_uri())
    page.wait_for_function("window.harness && window.harness.ready")
    page.evaluate(
        "o => window.harness.load(o)",
        {"html": session.read(uri), "toolName": tool, "toolArguments": arguments, "toolResult": result, "theme": theme,
         "styles": styles, "serverTools": server_tools, "dropMeta": drop_meta},
    )
    return page.frame_locator("iframe")


def screenshot(frame: Any, name: str, *, readme: bool = False) -> Path:
    """The view's content as a PNG artefact; `readme` ones are also the README's copies (UPDATE_SCREENSHOTS=1)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    frame.locator("main").screenshot(path=str(path))
    if readme and os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / path.name).write_bytes(path.read_bytes())
    return path
