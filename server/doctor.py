"""`msgflash-mcp doctor`: checks the configuration and the connection, explains each problem and its fix.

It reads the same environment as the server, talks to the API through the same `ApiClient` and
workspace resolution as the tools (or to the embedded sandbox when no key is configured), and
prints to stdout with rich. Keys are never printed: every line passes the exact-value scrubber,
fed with the raw environment values too (a malformed key never reaches `Settings`, but it may
still be echoed by a careless message), and key problems are described by shape, never by value.

Exit code: 0 when healthy (warnings allowed), 1 when any problem needs fixing.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
from rich.console import Console
from rich.table import Table

from ..tools.billing import BILLING_USAGE
from ..tools.instances import INSTANCES
from .core.errors import MsgFlashError, NotSent
from .core.settings import (
    DEFAULT_BASE_URL,
    PERSONAL_KEY_RE,
    TEAM_KEY_RE,
    WORKSPACE_NAME_RE,
    ConfigError,
    ConfirmMode,
    Settings,
    load_settings,
)
from .install_key import principal_key
from .redact import Scrubber
from .wire import json_list, json_object


@dataclass
class Finding:
    area: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False  # shown, but does not make the exit code 1


@dataclass
class WorkspaceReport:
    name: str
    kind: str
    plan: str = "-"
    limits: str = "-"
    instances: str = "-"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list[Finding])
    workspaces: list[WorkspaceReport] = field(default_factory=list[WorkspaceReport])

    def add(self, area: str, ok: bool, detail: str, fix: str = "", *, warning: bool = False) -> None:
        self.findings.append(Finding(area, ok, detail, fix, warning))

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok and not f.warning]


# --- configuration, read raw first so that each problem can be named precisely ---------------


def describe_key(value: str, *, variable: str, kind: str) -> str | None:
    """What is wrong with a key's shape, in words that never contain the key. None when it is fine."""
    pattern, prefix, other = (
        (PERSONAL_KEY_RE, "msgf_live_", "msgf_team_") if kind == "personal" else (TEAM_KEY_RE, "msgf_team_", "msgf_live_")
    )
    if pattern.fullmatch(value):
        return None
    stripped = value.strip().strip("'\"")
    if stripped != value and pattern.fullmatch(stripped):
        return f"{variable} has surrounding spaces or quotes; remove them"
    if value.startswith(other):
        if kind == "personal":
            return f"{variable} holds a team key ({other}...); team keys go in MSGFLASH_TEAMS with their team id"
        return f"{variable} holds a personal key ({other}...); put it in MSGFLASH_API_KEY instead"
    if value.startswith(prefix):
        rest = value[len(prefix) :]
        return (
            f"{variable} starts with {prefix} but the rest is {len(rest)} characters, not 64 lowercase hex "
            "characters (truncated or mistyped when copied?)"
        )
    return f"{variable} is not a MsgFlash key: expected {prefix} followed by 64 lowercase hex characters"


def check_raw_keys(report: Report, env: dict[str, str]) -> bool:
    """Shape checks on the raw variables. Returns True when they are fine (or absent)."""
    fine = True
    api_key = env.get("MSGFLASH_API_KEY", "")
    if api_key:
        problem = describe_key(api_key, variable="MSGFLASH_API_KEY", kind="personal")
        if problem:
            fine = False
            report.add(
                "personal key",
                False,
                problem,
                "copy the personal API key again from the MsgFlash dashboard (Settings > API keys) into "
                "MSGFLASH_API_KEY in your client's env block",
            )
    teams_raw = env.get("MSGFLASH_TEAMS", "")
    if teams_raw.strip():
        fine = check_raw_teams(report, teams_raw) and fine
    return fine


def check_raw_teams(report: Report, raw: str) -> bool:
    fix_json = 'MSGFLASH_TEAMS must be a JSON list like [{"name": "acme", "team_id": "<uuid>", "key": "msgf_team_..."}]'
    try:
        teams = json.loads(raw)
    except json.JSONDecodeError as exc:
        report.add("teams", False, f"MSGFLASH_TEAMS is not valid JSON (line {exc.lineno}, column {exc.colno})", fix_json)
        return False
    teams = json_list(teams)
    if teams is None:
        report.add("teams", False, "MSGFLASH_TEAMS is JSON but not a list", fix_json)
        return False
    fine = True
    seen: set[str] = set()
    for index, team in enumerate(teams):
        where = f"MSGFLASH_TEAMS[{index}]"
        entry = json_object(team)
        if entry is None:
            report.add("teams", False, f"{where} is not an object", fix_json)
            fine = False
            continue
        name = entry.get("name")
        label = f"{where} ({name})" if isinstance(name, str) and WORKSPACE_NAME_RE.fullmatch(name) else where
        missing = [k for k in ("name", "team_id", "key") if not entry.get(k)]
        unknown = sorted(set(entry) - {"name", "team_id", "key"})
        if missing or unknown:
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unknown field(s) {', '.join(unknown)}"] if unknown else []
            )
            report.add("teams", False, f"{label}: {'; '.join(parts)}", fix_json)
            fine = False
            continue
        if not isinstance(name, str) or name == "personal" or not WORKSPACE_NAME_RE.fullmatch(name):
            report.add("teams", False, f"{where}: team name is not valid",
                       "use 1-40 lowercase letters, digits, '-' or '_' (and not 'personal')")
            fine = False
        elif name in seen:
            report.add("teams", False, f"{where}: team name {name!r} is used twice", "give each team a unique name")
            fine = False
        else:
            seen.add(name)
        try:
            uuid.UUID(str(entry["team_id"]))
        except ValueError:
            report.add("teams", False, f"{label}: team_id is not a UUID",
                       "copy the team id (a UUID like 7e7e7e7e-0000-4000-8000-000000000001) from the team's settings page")
            fine = False
        problem = describe_key(str(entry["key"]), variable=f"{label} key", kind="team")
        if problem:
            report.add("teams", False, problem, "copy the team's API key (msgf_team_...) again from the team's settings")
            fine = False
    return fine


def raw_secrets(env: dict[str, str]) -> list[str]:
    """Every secret-looking raw value, well-formed or not, for the output scrubber."""
    values = [env.get(name, "") for name in ("MSGFLASH_API_KEY", "MSGFLASH_HTTP_TOKEN", "MSGFLASH_REDIS_URL")]
    values += [token.strip() for token in env.get("MSGFLASH_HTTP_TOKEN", "").split(",")]  # each one alone too
    values += re.findall(r"msgf_[A-Za-z0-9_]+", env.get("MSGFLASH_TEAMS", ""))
    try:
        teams = json_list(json.loads(env.get("MSGFLASH_TEAMS", "") or "[]")) or []
        values += [str(entry["key"]) for team in teams if (entry := json_object(team)) and entry.get("key")]
    except json.JSONDecodeError:
        pass
    return [v for v in values if v and len(v) >= 6]


def public_url(url: str) -> str:
    """A URL without any user:password part."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_settings(report: Report, settings: Settings) -> None:
    if settings.use_sandbox:
        why = "--sandbox / MSGFLASH_SANDBOX=1" if settings.sandbox else "no key is configured"
        report.add("mode", True, f"embedded SANDBOX ({why}): demo data, nothing reaches real people",
                   "" if settings.sandbox else "set MSGFLASH_API_KEY and/or MSGFLASH_TEAMS to use your account",
                   warning=not settings.sandbox)
    else:
        names = (["personal"] if settings.api_key else []) + [t.name for t in settings.teams]
        report.add("mode", True, f"live API, workspaces: {', '.join(names)}")
        if settings.api_key is None:
            report.add("personal key", True, "not set: usage, account and billing tools will explain they need it",
                       "set MSGFLASH_API_KEY to use get_usage/get_account/billing tools", warning=True)
        url = urlsplit(settings.base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            report.add("base URL", False, f"MSGFLASH_BASE_URL {public_url(settings.base_url)!r} is not an http(s) URL",
                       f"unset it (default {DEFAULT_BASE_URL}) or give a full URL")
        elif url.scheme != "https" and url.hostname not in ("127.0.0.1", "localhost", "::1"):
            report.add("base URL", False, f"{public_url(settings.base_url)} is plain http: keys would travel unencrypted",
                       "use https")
        elif url.username or url.password:
            report.add("base URL", False, "MSGFLASH_BASE_URL contains a user:password part", "remove it; keys are sent in headers")
        else:
            report.add("base URL", True, public_url(settings.base_url))
    for notice in settings.notices:
        report.add("setting ignored", True, notice, warning=True)
    if settings.confirm is ConfirmMode.OFF and not settings.read_only:
        report.add("confirmation", True, "MSGFLASH_CONFIRM=off: sends and deletes act WITHOUT asking anyone",
                   "only for unattended pipelines; unset it (default auto) for interactive use", warning=True)
    else:
        report.add("confirmation", True, f"{settings.confirm.value}" + (" (read-only mode)" if settings.read_only else ""))
    if settings.dry_run:
        report.add("dry run", True, "on: mutating tools only preview", warning=True)
    report.add("rate limit", True, f"{settings.rate_limit:g} requests/s per key" if settings.rate_limit else "off")
    if settings.audit_log is not None:
        folder = settings.audit_log.expanduser().resolve().parent
        if folder.is_dir() and os.access(folder, os.W_OK):
            report.add("audit log", True, str(settings.audit_log))
        else:
            report.add("audit log", False, f"cannot write to {folder}", "point MSGFLASH_AUDIT_LOG to a writable folder")
    if settings.http_token is not None:
        report.add("HTTP token", True, "set (required by --transport http)")


async def check_redis(report: Report, settings: Settings) -> None:
    if settings.redis_url is None:
        return
    url = settings.redis_url.get_secret_value()
    shown = public_url(url)
    try:
        import redis.asyncio as aioredis

        from .transport.replica_key import recorded_fingerprint

        client: Any = aioredis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        try:
            with anyio.fail_after(5):
                await client.ping()
                recorded = await recorded_fingerprint(client)
        finally:
            await client.aclose()
    except Exception as exc:  # any failure here is the same advice
        report.add("redis", False, f"cannot reach Redis at {shown} ({type(exc).__name__})",
                   "start Redis or fix MSGFLASH_REDIS_URL (redis://host:6379/0); replicas share limits and tokens through it")
        return
    report.add("redis", True, f"reachable at {shown}")
    check_principal_key(report, settings, recorded)


def check_principal_key(report: Report, settings: Settings, recorded: str | None) -> None:
    """Whether this install names people as the replicas already sharing the Redis do (transport/replica_key.py)."""
    from .transport.replica_key import FIX, fingerprint

    if recorded is None:
        report.add("principal key", True, "no replica has recorded its key in Redis yet: the first to start will")
    elif recorded == fingerprint(principal_key(settings)):
        report.add("principal key", True, "the same as the replicas sharing this Redis")
    else:
        report.add("principal key", False, "differs from the one the replicas sharing this Redis use "
                   "(an HTTP server with it refuses to start)", FIX)


async def check_oauth(report: Report, settings: Settings) -> None:
    """Resource-server mode: https, the authorization server's metadata and exact issuer, its JWKS, and the
    metadata this server publishes at MSGFLASH_PUBLIC_URL (when it is running there)."""
    if settings.oauth_issuer is None or settings.public_url is None:
        return
    import httpx2

    from .auth import scopes
    from .auth.discovery import DiscoveryError, discover
    from .auth.jwks import parse_keys
    from .auth.resource_server import resource_url

    issuer, resource = settings.oauth_issuer, resource_url(settings.public_url)
    for name, url in (("MSGFLASH_OAUTH_ISSUER", issuer), ("MSGFLASH_PUBLIC_URL", settings.public_url)):
        host = urlsplit(url).hostname or ""
        if url.startswith("http://") and host not in ("127.0.0.1", "localhost", "::1"):
            report.add("OAuth", False, f"{name} is plain http on {host}: tokens would cross the network in clear",
                       f"use https for {name} (OAuth 2.1 requires it off loopback)")
    check_roles(report, settings)
    try:
        async with httpx2.AsyncClient(timeout=5) as http:
            with anyio.fail_after(15):
                metadata = await discover(issuer, http)
                report.add("OAuth issuer", True, f"{metadata.url} names exactly {issuer}")
                keys = parse_keys((await http.get(metadata.jwks_uri)).json())
    except DiscoveryError as exc:
        report.add("OAuth issuer", False, str(exc),
                   "set MSGFLASH_OAUTH_ISSUER to the issuer string the authorization server publishes, character "
                   "for character (a trailing slash counts)")
        return
    except (httpx2.HTTPError, ValueError, TimeoutError) as exc:
        report.add("OAuth JWKS", False, f"cannot read the issuer's signing keys ({type(exc).__name__})",
                   "make the authorization server's jwks_uri reachable from this machine")
        return
    report.add("OAuth JWKS", bool(keys), f"{len(keys)} signing key(s) at the issuer's jwks_uri",
               "" if keys else "the authorization server publishes no signing keys with a key id")
    await check_published_metadata(report, resource, issuer, scopes.BASELINE)


def check_roles(report: Report, settings: Settings) -> None:
    """Roles deny by default (server/auth/roles.py): with none configured, every signed-in person is refused."""
    if not settings.roles:
        report.add("OAuth roles", True, "MSGFLASH_ROLES is empty: every signed-in person is refused in every workspace",
                   'set MSGFLASH_ROLES, e.g. {"personal": {"you@example.com": "admin"}}', warning=True)
        return
    people = {holder for holders in settings.roles.values() for holder in holders}
    report.add("OAuth roles", True, f"{len(people)} person(s) or bot(s) hold roles in {len(settings.roles)} workspace(s)")


async def check_published_metadata(report: Report, resource: str, issuer: str, baseline: str) -> None:
    """RFC 9728 metadata as clients will read it; only a warning when nothing answers (the server may be down)."""
    import httpx2
    from mcp.server.auth.routes import build_resource_metadata_url
    from pydantic import AnyHttpUrl

    url = str(build_resource_metadata_url(AnyHttpUrl(resource)))
    try:
        async with httpx2.AsyncClient(timeout=5) as http:
            with anyio.fail_after(10):
                published = json_object((await http.get(url)).json()) or {}
    except (httpx2.HTTPError, ValueError, TimeoutError) as exc:
        report.add("OAuth metadata", False, f"nothing readable at {url} ({type(exc).__name__})",
                   "start the server with --transport http behind MSGFLASH_PUBLIC_URL, then run doctor again",
                   warning=True)
        return
    expected: dict[str, Any] = {"resource": resource, "authorization_servers": [issuer]}
    wrong = {k: published.get(k) for k, v in expected.items() if published.get(k) != v}
    if baseline not in (json_list(published.get("scopes_supported")) or []):
        wrong["scopes_supported"] = published.get("scopes_supported")
    if wrong:
        report.add("OAuth metadata", False, f"{url} publishes {wrong}, expected {expected}",
                   "check MSGFLASH_PUBLIC_URL and the reverse proxy in front of the server")
        return
    report.add("OAuth metadata", True, f"{url} names this resource, the issuer and scope {baseline}")


# --- connectivity: the same ApiClient and workspace binding as the tools ----------------------


async def check_api(report: Report, settings: Settings) -> None:
    from .call import bind_route
    from .runtime import Runtime, connect

    # Short bounds: a doctor answers in seconds. Redis is checked on its own above.
    probe = settings.model_copy(update={"timeout": 8.0, "call_deadline": 12.0, "redis_url": None, "audit_log": None})
    runtime = Runtime.create(probe)
    scrub = runtime.scrubber.text
    where = "the embedded sandbox" if runtime.is_sandbox else public_url(settings.base_url)
    reached = False
    async with connect(runtime) as connection:
        for name in runtime.workspaces.names:
            workspace = runtime.workspaces.get(name)
            row = WorkspaceReport(name, workspace.kind)
            report.workspaces.append(row)
            try:
                api = await bind_route(connection, INSTANCES, name)
                instances: list[dict[str, Any]] = list(await api() or [])
            except NotSent as exc:
                report.add("API", False, f"cannot reach {where}: {scrub(str(exc))}",
                           f"check MSGFLASH_BASE_URL (default {DEFAULT_BASE_URL}), the network, any proxy or firewall")
                row.instances = "unreachable"
                break
            except MsgFlashError as exc:
                report.add(f"workspace {name}", False, scrub(str(exc)), scrub(exc.advice()) or "see the message")
                row.instances = "error"
                continue
            reached = True
            connected = sum(1 for i in instances if i.get("status") == "connected")
            row.instances = ", ".join(f"{i.get('name', i.get('id'))}: {i.get('status')}" for i in instances) or "none"
            if instances and not connected:
                report.add(f"workspace {name}", True, "no connected instance: nothing can be sent",
                           "link or reconnect a WhatsApp number in the dashboard", warning=True)
            if workspace.kind == "personal":
                await usage_row(report, connection, row, scrub)
            else:
                row.plan = "(team: billing is the owner's)"
    if reached:
        report.add("API", True, f"reached {where}")


async def usage_row(report: Report, connection: Any, row: WorkspaceReport, scrub: Any) -> None:
    from .call import bind_route

    try:
        api = await bind_route(connection, BILLING_USAGE)
        usage = json_object(await api()) or {}
    except MsgFlashError as exc:
        report.add("usage", False, scrub(str(exc)), scrub(exc.advice()) or "see the message")
        return
    plan: object = usage.get("plan") or {}
    named = json_object(plan)
    row.plan = str(named.get("name") or named.get("code") or "-") if named is not None else str(plan)
    limits = json_object(usage.get("limits")) or {}
    used = usage.get("usage")
    parts: list[str] = []
    for key, label in (("monthlyOutboundQuota", "messages"), ("monthlyApiRequestQuota", "API requests")):
        if key in limits:
            spent = _used(used, key)
            parts.append(f"{label} {spent if spent is not None else '?'}/{limits[key]}")
            if spent is not None and isinstance(limits[key], int | float) and limits[key] and spent >= limits[key]:
                report.add("quota", False, f"monthly {label} quota is used up ({spent}/{limits[key]})",
                           "upgrade the plan or wait for the next period")
    row.limits = ", ".join(parts) or "-"


def _used(usage: object, limit_key: str) -> int | float | None:
    counters = json_object(usage)
    if counters is None:
        return None
    candidates = {
        "monthlyOutboundQuota": ("effectiveOutboundUsage", "messagesCount"),
        "monthlyApiRequestQuota": ("apiRequestsCount",),
    }[limit_key]
    for key in candidates:
        value = counters.get(key)
        if (nested := json_object(value)) is not None:  # {"used": n, ...}
            value = nested.get("used")
        if isinstance(value, int | float):
            return value
    return None


# --- output ----------------------------------------------------------------------------------


def render(report: Report, console: Console, scrubber: Scrubber) -> None:
    def s(text: str) -> str:
        return scrubber.text(text)

    console.print("[bold]msgflash-mcp doctor[/bold]")
    checks = Table(title="Configuration and connection", show_lines=False, expand=False)
    checks.add_column("check")
    checks.add_column("")
    checks.add_column("detail", overflow="fold")
    for finding in report.findings:
        mark = "[green]ok[/green]" if finding.ok and not finding.warning else (
            "[yellow]warn[/yellow]" if finding.warning else "[red]FAIL[/red]"
        )
        checks.add_row(s(finding.area), mark, s(finding.detail))
    console.print(checks)
    if report.workspaces:
        table = Table(title="Workspaces")
        for column in ("workspace", "kind", "plan", "limits (used/limit)", "instances"):
            table.add_column(column, overflow="fold")
        for row in report.workspaces:
            table.add_row(*(s(v) for v in (row.name, row.kind, row.plan, row.limits, row.instances)))
        console.print(table)
    advice = [f for f in report.findings if f.fix and (not f.ok or f.warning)]
    for finding in advice:
        style = "yellow" if finding.warning else "red"
        console.print(f"[{style}]- {s(finding.area)}:[/{style}] {s(finding.detail)}\n  [bold]fix:[/bold] {s(finding.fix)}")
    problems = report.problems
    if problems:
        console.print(f"[red bold]{len(problems)} problem(s) found.[/red bold]")
    else:
        console.print("[green bold]Healthy.[/green bold]")


async def diagnose(env: dict[str, str]) -> Report:
    report = Report()
    raw_ok = check_raw_keys(report, env)
    try:
        settings = load_settings()
    except ConfigError as exc:
        if raw_ok:  # the raw checks did not already explain it
            report.add("configuration", False, str(exc), "fix the variable named in the message (see README, Configuration)")
        return report
    check_settings(report, settings)
    await check_redis(report, settings)
    await check_oauth(report, settings)
    if not any(f.area == "base URL" and not f.ok for f in report.findings):
        await check_api(report, settings)
    return report


def run_doctor() -> int:
    env = {k: v for k, v in os.environ.items() if k.startswith("MSGFLASH_")}
    scrubber = Scrubber(raw_secrets(env))
    console = Console(file=sys.stdout, highlight=False, soft_wrap=True, width=max(100, Console().width))
    report = anyio.run(diagnose, env)
    render(report, console, scrubber)
    return 1 if report.problems else 0
