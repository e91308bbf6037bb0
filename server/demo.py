"""`msgflash-mcp demo`: a scripted session against the embedded sandbox, through a real MCP client.

The server runs as a child process (`python -m msgflash_mcp.server --sandbox`) spoken to over stdio
by the official SDK client, exactly as Claude Desktop would. The demo itself is not a stdio server,
so printing to stdout is fine here. A step whose tool is not in this build is skipped with a note,
so the demo always runs to the end; any step that errors makes the exit status 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.types import TextContent
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..sandbox.seed import AWA_CONTACT_ID, FINISHED_CAMPAIGN_ID, PERSONAL_CONNECTED_INSTANCE_ID, PROMO_TEMPLATE_ID
from .wire import json_list, json_object

SESSION_TIMEOUT = 120.0  # the whole scripted session, start-up included
CALL_TIMEOUT = 30.0  # one tool call
DEMO_RECIPIENT = "+33612345000"  # Awa Diop, a seeded sandbox contact
COLUMNS = ("name", "phone", "status", "waNumber", "memberCount", "id")


def server_parameters(db: str = ":memory:") -> StdioServerParameters:
    """The child server: this interpreter, the sandbox, a throwaway database. It inherits only a safe
    allow-list of the environment (PATH, HOME, ...), so everything it needs is passed here."""
    env = {"MSGFLASH_SANDBOX": "true", "MSGFLASH_SANDBOX_DB": db, "PYTHONIOENCODING": "utf-8"}
    return StdioServerParameters(command=sys.executable, args=["-m", "msgflash_mcp.server", "--sandbox"], env=env)


@dataclass
class Session:
    client: Client
    console: Console
    available: set[str]
    schemas: dict[str, dict[str, Any]]
    failed: list[str] = field(default_factory=list[str])
    skipped: list[str] = field(default_factory=list[str])

    async def call(
        self, tool: str, args: dict[str, Any] | None = None, *, quiet: bool = False, shown: str | None = None
    ) -> dict[str, Any] | None:
        """Call one tool, print the call and a compact result; None when skipped or failed."""
        args = dict(args or {})
        if tool not in self.available:
            self.skipped.append(tool)
            self.console.print(f"[dim]· skipped {tool}: this tool is not in this build yet[/dim]")
            return None
        known = set(self.schemas[tool].get("properties", {}))
        dropped = sorted(set(args) - known)
        for name in dropped:
            args.pop(name)
        self.console.print(Text.assemble(("→ ", "cyan"), (tool, "bold cyan"), (shown or _args_text(args), "cyan")))
        if dropped:
            self.console.print(f"  [dim](this build's {tool} has no {', '.join(dropped)}; not passed)[/dim]")
        try:
            with anyio.fail_after(CALL_TIMEOUT):
                result = await self.client.call_tool(tool, args)
        except TimeoutError:
            return self._fail(tool, f"no answer within {CALL_TIMEOUT:g} s")
        except Exception as exc:  # a protocol error must not end the tour
            return self._fail(tool, f"{type(exc).__name__}: {exc}")
        if result.is_error or result.structured_content is None:
            first = result.content[0] if result.content else None
            return self._fail(tool, first.text if isinstance(first, TextContent) else "error")
        out: dict[str, Any] = result.structured_content
        if not quiet:
            self.show(out)
        return out

    def _fail(self, tool: str, message: str) -> None:
        self.failed.append(tool)
        self.console.print(f"  [red]✗ {message}[/red]")
        return None

    def show(self, out: dict[str, Any]) -> None:
        status = out.get("status", "?")
        colour = {"ok": "green", "confirmation_required": "yellow"}.get(status, "magenta")
        workspace = f" [dim]({out['workspace']})[/dim]" if out.get("workspace") else ""
        self.console.print(f"  [{colour}]{status}[/{colour}]{workspace} {_escape(out.get('summary', ''))}")
        table = _rows_table(out.get("data"))
        if table is not None:
            self.console.print(table)


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


def _args_text(args: dict[str, Any]) -> str:
    shown = json.dumps(args, ensure_ascii=False, separators=(", ", ": "))
    return f"({shown[:160]}{'…' if len(shown) > 160 else ''})" if args else "()"


def _rows(data: Any) -> list[dict[str, Any]]:
    rows = json_list(data)
    page = json_object(data) or {}
    for key in ("contacts", "groups", "members", "items"):
        if rows is None:
            rows = json_list(page.get(key))
    return [row for item in rows or [] if (row := json_object(item)) is not None]


def _rows_table(data: Any, limit: int = 5) -> Table | None:
    rows = _rows(data)
    if not rows:
        return None
    columns = [c for c in COLUMNS if any(c in row for row in rows)]
    if not columns:
        return None
    table = Table(box=None, padding=(0, 2), show_header=True, header_style="dim")
    for column in columns:
        table.add_column(column, overflow="ellipsis", max_width=38)
    for row in rows[:limit]:
        table.add_row(*[_escape(str(row.get(column, ""))) for column in columns])
    if len(rows) > limit:
        table.add_row(*([f"… {len(rows) - limit} more"] + [""] * (len(columns) - 1)))
    return table


def _first(rows: list[dict[str, Any]], predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    return next((row for row in rows if predicate(row)), None)


async def tour(session: Session) -> None:
    console = session.console

    console.rule("[bold]Workspaces and instances")
    await session.call("list_workspaces")
    instances = await session.call("list_instances")
    connected = _first(_rows(instances and instances.get("data")), lambda r: r.get("status") == "connected")
    instance_id = str(connected["id"]) if connected else PERSONAL_CONNECTED_INSTANCE_ID
    await session.call("get_instance_state", {"instance_id": instance_id})

    console.rule("[bold]Contacts and groups")
    contacts = await session.call("list_contacts", {"limit": 5})
    contact_ids = [str(row["id"]) for row in _rows(contacts and contacts.get("data")) if "id" in row][:3]
    await session.call("list_groups")
    group = await session.call("create_group", {"name": "Demo VIPs", "description": "Created by msgflash-mcp demo"})
    group_id = (group or {}).get("data", {}).get("id")
    if group_id and contact_ids:
        await session.call("add_group_members", {"group_id": group_id, "contact_ids": contact_ids})
    elif "add_group_members" in session.available:
        console.print("[dim]· skipped add_group_members: no group or contacts from the previous steps[/dim]")

    console.rule("[bold]Templates")
    await session.call(
        "preview_template",
        {"template_id": PROMO_TEMPLATE_ID, "contact_id": AWA_CONTACT_ID, "variables": {"code": "DEMO10"}},
    )

    console.rule("[bold]Usage and campaigns")
    await session.call("get_usage")
    await session.call("get_campaign", {"campaign_id": FINISHED_CAMPAIGN_ID})
    await session.call("get_campaign_stats", {"campaign_id": FINISHED_CAMPAIGN_ID})

    console.rule("[bold]Sending a message (sandbox: nobody is really messaged)")
    args = {
        "instance_id": instance_id,
        "to": DEMO_RECIPIENT,
        "type": "text",
        "text": "Bonjour Awa ! Ceci est un message de démonstration (sandbox).",
    }
    pending = await session.call("send_message", args, quiet=True)
    if pending is None:
        return
    session.show(pending)
    if pending.get("status") != "confirmation_required" or not pending.get("confirm_token"):
        return
    preview = json.dumps(pending.get("preview") or {}, ensure_ascii=False, indent=2)
    console.print(Panel(_escape(preview), title="What the user is asked to confirm", border_style="yellow", expand=False))
    console.print("  [yellow]The user agrees → the identical call is repeated with the confirm_token.[/yellow]")
    token = str(pending["confirm_token"])
    shown = f"(same arguments, confirm_token: {token[:10]}…)"
    await session.call("send_message", {**args, "confirm_token": token}, shown=shown)


async def run_session(console: Console, params: StdioServerParameters | None = None) -> Session:
    with anyio.fail_after(SESSION_TIMEOUT):
        async with Client(params or server_parameters(), read_timeout_seconds=CALL_TIMEOUT) as client:
            listed = (await client.list_tools()).tools
            session = Session(
                client=client,
                console=console,
                available={tool.name for tool in listed},
                schemas={tool.name: tool.input_schema for tool in listed},
            )
            console.print(f"[dim]Connected over stdio: {len(listed)} tools available.[/dim]\n")
            await tour(session)
            return session


def run_demo(console: Console | None = None) -> int:
    console = console or Console()
    console.print(
        Panel.fit(
            "[bold]msgflash-mcp demo[/bold]\n"
            "SANDBOX: the embedded MsgFlash simulator with demo data. Nothing is sent to real people.\n"
            "[dim]Server: python -m msgflash_mcp.server --sandbox, spoken to over stdio by the MCP SDK client.[/dim]",
            border_style="yellow",
        )
    )
    try:
        session = anyio.run(run_session, console)
    except TimeoutError:
        console.print(f"[red]The demo did not finish within {SESSION_TIMEOUT:g} s.[/red]")
        return 1
    except Exception as exc:
        console.print(f"[red]Could not run the demo session: {type(exc).__name__}: {exc}[/red]")
        return 1
    console.print()
    notes: list[str] = []
    if session.skipped:
        notes.append(f"{len(session.skipped)} step(s) skipped (tools not in this build): {', '.join(session.skipped)}")
    if session.failed:
        notes.append(f"[red]{len(session.failed)} step(s) failed: {', '.join(session.failed)}[/red]")
        console.print("\n".join(notes))
        return 1
    console.print("\n".join([*notes, "[green]Demo complete.[/green] Everything above ran on the sandbox."]))
    return 0


__all__ = ["run_demo", "server_parameters"]
