"""Run the sandbox over HTTP with uvicorn (the CLI lives in msgflash_mcp.server)."""

from __future__ import annotations

import ipaddress

import uvicorn
from rich.console import Console

from .app import SandboxConfig, create_app
from .keys import PERSONAL_KEY, TEAM_ID, TEAM_KEY, TEAM_NAME


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(host: str = "127.0.0.1", port: int = 8787, db: str = ":memory:") -> None:
    control = _loopback(host)  # the control surface is only exposed on loopback
    app = create_app(SandboxConfig(db_path=db, control=control))
    err = Console(stderr=True)
    err.print(f"[bold green]MsgFlash sandbox[/] on [bold]http://{host}:{port}/api/v1[/] (db: {db})")
    err.print(f"  personal key  [cyan]{PERSONAL_KEY}[/]")
    err.print(f"  team key      [cyan]{TEAM_KEY}[/]  X-Team-Id: [cyan]{TEAM_ID}[/] ({TEAM_NAME})")
    where = f"http://{host}:{port}/_sandbox/" if control else "[yellow]off (not loopback)[/]"
    err.print(f"  control API   {where}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
