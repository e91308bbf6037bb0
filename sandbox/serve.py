"""Run the sandbox over HTTP with uvicorn (the CLI lives in msgflash_mcp.server)."""

from __future__ import annotations

import gc
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


def serve(
    host: str = "127.0.0.1",
    port: int = 8787,
    db: str = ":memory:",
    *,
    rate_limit: float = 10.0,
    rate_mode: str = "gcra",
    burst: int = 10,
    resolution: str | None = None,
) -> None:
    control = _loopback(host)  # the control surface is only exposed on loopback
    config = SandboxConfig(db_path=db, control=control, rate_limit=rate_limit, rate_mode=rate_mode, burst=burst)  # type: ignore[arg-type]
    if resolution is not None:
        config.resolution = resolution  # type: ignore[assignment]  (argparse choices: a Resolution)
    app = create_app(config)
    err = Console(stderr=True)
    err.print(f"[bold green]MsgFlash sandbox[/] on [bold]http://{host}:{port}/api/v1[/] (db: {db})")
    err.print(f"  personal key  [cyan]{PERSONAL_KEY}[/]")
    err.print(f"  team key      [cyan]{TEAM_KEY}[/]  X-Team-Id: [cyan]{TEAM_ID}[/] ({TEAM_NAME})")
    where = f"http://{host}:{port}/_sandbox/" if control else "[yellow]off (not loopback)[/]"
    err.print(f"  control API   {where}")
    limit = f"{rate_limit:g} req/s per key ({rate_mode}, burst {burst})" if rate_limit else "off"
    err.print(f"  rate limit    {limit}")
    err.print(f"  campaigns     recipients resolved at [bold]{config.resolution}[/] (--resolution create|start|run)")
    gc.collect()
    gc.freeze()  # start-up objects out of the collector's reach: short GC pauses, steady timing
    uvicorn.run(app, host=host, port=port, log_level="warning")
