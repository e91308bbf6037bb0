"""Command line: `msgflash-mcp` (the MCP server), `sandbox`, `demo`, `doctor`, `roles`.

On stdio, stdout is the protocol: everything human-readable goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .core.settings import ConfigError, load_settings


def _server_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sandbox", action="store_true", default=None, help="run against the embedded sandbox")
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address (loopback by default)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--toolsets", help="comma-separated toolsets to enable (default: all)")
    parser.add_argument("--read-only", action="store_true", default=None, help="only reading tools exist")
    parser.add_argument("--dry-run", action="store_true", default=None, help="mutating tools preview, send nothing")


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="msgflash-mcp", description="MCP server for the MsgFlash WhatsApp API")
    _server_args(parser)
    sub = parser.add_subparsers(dest="command")
    sandbox = sub.add_parser("sandbox", help="serve the MsgFlash simulator alone")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8787)
    sandbox.add_argument("--db", default=None, help="SQLite file (default: in the user data dir) or :memory:")
    sandbox.add_argument("--rate-limit", type=float, default=10.0)
    sandbox.add_argument("--rate-mode", choices=["gcra", "fixed"], default="gcra")
    sandbox.add_argument("--burst", type=int, default=10)
    sandbox.add_argument("--resolution", choices=["create", "start", "run"], default=None,
                         help="when a campaign's recipients are resolved (default: MSGFLASH_SANDBOX_RESOLUTION, else start)")
    sub.add_parser("demo", help="a scripted session on the sandbox through a real MCP client")
    sub.add_parser("doctor", help="check configuration and connectivity (never prints keys)")
    roles = sub.add_parser("roles", help="grant, revoke or list signed-in people's roles at runtime (Redis)")
    action = roles.add_subparsers(dest="roles_action", required=True)
    grant = action.add_parser("grant", help="give a person or bot a role in a workspace")
    revoke = action.add_parser("revoke", help="take a person's or bot's role in a workspace away")
    listing = action.add_parser("list", help="the effective roles: MSGFLASH_ROLES with the runtime entries over it")
    for each in (grant, revoke):
        each.add_argument("workspace")
        each.add_argument("holder", help="sub:<subject> or an email address")
    grant.add_argument("role", choices=["viewer", "sender", "admin"])
    listing.add_argument("workspace", nargs="?")
    return parser.parse_args(argv)


def _fail(message: str) -> int:
    sys.stderr.write(f"msgflash-mcp: {message}\n")
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.command == "sandbox":
        from ..sandbox.serve import serve
        from .runtime import default_sandbox_db

        serve(
            host=args.host,
            port=args.port,
            db=args.db or default_sandbox_db(),
            rate_limit=args.rate_limit,
            rate_mode=args.rate_mode,
            burst=args.burst,
            resolution=args.resolution,
        )
        return 0
    if args.command == "demo":
        from .demo import run_demo

        return run_demo()
    if args.command == "doctor":
        from .doctor import run_doctor

        return run_doctor()
    if args.command == "roles":
        from .auth.roles_cli import run_roles

        try:
            settings = load_settings()
        except ConfigError as exc:
            return _fail(str(exc))
        return run_roles(settings, args.roles_action, args.workspace, getattr(args, "holder", None),
                         getattr(args, "role", None))
    try:
        settings = load_settings(
            sandbox=args.sandbox,
            toolsets=args.toolsets,
            read_only=args.read_only,
            dry_run=args.dry_run,
        )
    except ConfigError as exc:
        return _fail(str(exc))
    for notice in settings.notices:  # the host's log; the instructions carry it to the person
        sys.stderr.write(f"msgflash-mcp: warning: {notice}\n")
    from .logs import configure_logging
    from .registry import UnknownToolset
    from .transport.serve import serve_mcp

    configure_logging(settings)
    try:
        serve_mcp(settings, transport=args.transport, host=args.host, port=args.port)
    except (UnknownToolset, ConfigError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
