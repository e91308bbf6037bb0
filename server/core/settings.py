"""Configuration: environment (what Claude Desktop passes in its `env` map) first, CLI flags on top.

Keys are `SecretStr` everywhere, so `repr(settings)`, validation errors and logs never show one.
Validation errors name the variable and the rule, never the value.
"""

from __future__ import annotations

import json
import re
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PERSONAL_KEY_RE = re.compile(r"^msgf_live_[0-9a-f]{64}$")
TEAM_KEY_RE = re.compile(r"^msgf_team_[0-9a-f]{64}$")
WORKSPACE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
PERSONAL = "personal"
DEFAULT_BASE_URL = "https://srv.msgflash.com"


class ConfirmMode(StrEnum):
    AUTO = "auto"  # elicit where the client can show a form, else a bound token
    TOKEN = "token"  # always the token round trip
    OFF = "off"  # unattended pipelines: no confirmation at all (loud at start-up)


class Role(StrEnum):
    """What a signed-in person may do in one workspace (resource-server mode: server/auth/roles.py)."""

    VIEWER = "viewer"  # reads
    SENDER = "sender"  # and writes and sends
    ADMIN = "admin"  # and deletes and webhooks


# Who a role is for: `sub:<subject>` (the token's `sub`, e.g. a client-credentials bot) or an email address.
ROLE_HOLDER_RE = re.compile(r"^(sub:\S+|[^@\s:]+@[^@\s]+)$")


# What hosts send for a boolean field (MCPB booleans arrive as "true"/"false"; people type the rest).
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


def _safe_reading(data: dict[str, Any]) -> list[str]:
    """Read the switches a host fills from a form (Claude Desktop's extension settings) the forgiving way.

    Case and surrounding spaces do not matter. A value that still means nothing falls back to the safe side
    instead of stopping the server, where the error would reach only a log nobody reads: confirmation on
    (`auto`), read-only on. Edits `data` in place and returns what was replaced, for the person to see
    (`Settings.notices`: the server's instructions, `msgflash-mcp doctor`, stderr). A notice names the
    variable, never its value (a key pasted into the wrong field must not be echoed).
    """
    notices: list[str] = []
    confirm = data.get("confirm")
    if isinstance(confirm, str):
        mode = confirm.strip().lower()
        if mode not in set(ConfirmMode):
            mode = ConfirmMode.AUTO
            notices.append(
                "MSGFLASH_CONFIRM is not auto, token or off, so confirmation stays on (auto); "
                "set it to one of those three to silence this notice"
            )
        data["confirm"] = mode
    read_only = data.get("read_only")
    if isinstance(read_only, str):
        word = read_only.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            word = "true"
            notices.append(
                "MSGFLASH_READ_ONLY is not true or false, so read-only mode is on (nothing can be sent, changed "
                "or deleted); set it to true or false to silence this notice"
            )
        data["read_only"] = word in TRUE_WORDS
    return notices


class ConfigError(ValueError):
    """A configuration problem, worded for a person editing their client config; never contains a key."""


class TeamConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    team_id: uuid.UUID
    key: SecretStr

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value == PERSONAL or not WORKSPACE_NAME_RE.fullmatch(value):
            raise ValueError(
                "team name must be 1-40 lowercase letters, digits, '-' or '_', and not 'personal'"
            )
        return value

    @field_validator("key")
    @classmethod
    def _key(cls, value: SecretStr) -> SecretStr:
        if not TEAM_KEY_RE.fullmatch(value.get_secret_value()):
            raise ValueError("team key must be 'msgf_team_' followed by 64 lowercase hex characters")
        return value


def zone_or_none(name: str) -> ZoneInfo | None:
    """The IANA zone of that name, or None when there is none (shared with the `timezone` tool arguments)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _json_setting(name: str, value: Any, *, empty: Any) -> Any:
    """A setting given as a JSON string (from the environment) decoded; blank means `empty`; anything else as is."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return empty
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno})") from None


class Settings(BaseSettings):
    """Everything the server reads from its environment (prefix MSGFLASH_)."""

    model_config = SettingsConfigDict(env_prefix="MSGFLASH_", extra="ignore", frozen=True, hide_input_in_errors=True)

    api_key: SecretStr | None = None
    teams: Annotated[list[TeamConfig], NoDecode] = Field(default_factory=list[TeamConfig])
    config: Path | None = None
    default_workspace: str | None = None
    base_url: str = DEFAULT_BASE_URL
    sandbox: bool | None = None  # None: decided by whether a key is configured
    sandbox_db: str | None = None  # embedded sandbox: None = a file in the user data dir; ":memory:" forgets
    # The embedded sandbox enforces the API's 10 req/s per key like the real one; 0 turns that off
    # (load benchmarks measure the server, not the simulated quota).
    sandbox_rate_limit: float = Field(default=10.0, ge=0, le=1000)
    # The local record of campaigns created through this server (server/campaign_record.py): a SQLite
    # path or ":memory:"; None = the user data dir (or the sandbox's own). Redis replaces it when set.
    campaign_db: str | None = None
    toolsets: Annotated[list[str] | None, NoDecode] = None
    read_only: bool = False
    dry_run: bool = False
    confirm: ConfirmMode = ConfirmMode.AUTO
    rate_limit: float = Field(default=10.0, ge=0, le=1000)
    redis_url: SecretStr | None = None
    http_token: SecretStr | None = None
    # Resource-server mode (server/auth/): signed-in people's JWT access tokens from this issuer, for the MCP
    # endpoint at public_url + /mcp. Exclusive with http_token.
    oauth_issuer: str | None = None
    public_url: str | None = None
    # Resource-server mode only: who holds which role in each workspace, deny by default (server/auth/roles.py).
    # JSON {"workspace": {"alice@example.com": "admin", "sub:reporting-bot": "viewer"}}.
    roles: Annotated[dict[str, dict[str, Role]], NoDecode] = Field(default_factory=dict[str, dict[str, Role]])
    principal_key: SecretStr | None = None  # HMAC key naming HTTP principals (server/call/principal.py)
    # Open Streamable HTTP sessions one caller (a signed-in person, else a bearer token, else an address) may hold
    # (server/transport/session_cap.py).
    max_sessions_per_client: int = Field(default=32, ge=1, le=10_000)
    allowed_hosts: Annotated[list[str] | None, NoDecode] = None  # public names behind a proxy (Host check)
    audit_log: Path | None = None
    log_level: str = "WARNING"  # the product's own loggers (msgflash_mcp.*)
    log_level_all: str | None = None  # every other logger (mcp, sse_starlette, httpx2, uvicorn); None = WARNING
    timeout: float = Field(default=30.0, gt=0, le=300, description="per HTTP attempt")
    call_deadline: float = Field(default=60.0, gt=0, le=600, description="whole tool call, retries included")
    recipient_allowlist: Annotated[list[str] | None, NoDecode] = None
    url_allowlist: Annotated[list[str] | None, NoDecode] = None
    max_recipients: int | None = Field(default=None, ge=1)
    # Statuses reach everyone who has the sending number: refused while a recipient allow-list is set,
    # unless this says so (server/guard/policy.py).
    allow_statuses: bool = False
    # IANA zone of the person confirming: schedules are shown in it next to UTC (None: UTC only).
    timezone: str | None = None

    # What `_safe_reading` replaced with the safe default: shown to the person, never a reason to stop.
    _notices: tuple[str, ...] = PrivateAttr(default=())

    _csv_toolsets = field_validator(
        "toolsets", "recipient_allowlist", "url_allowlist", "allowed_hosts", mode="before"
    )(_csv)

    @field_validator("api_key")
    @classmethod
    def _personal_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not PERSONAL_KEY_RE.fullmatch(value.get_secret_value()):
            raise ValueError("MSGFLASH_API_KEY must be 'msgf_live_' followed by 64 lowercase hex characters")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and zone_or_none(value) is None:
            raise ValueError(f"MSGFLASH_TIMEZONE must be an IANA time zone name such as Europe/Paris, not {value!r}")
        return value

    @field_validator("teams", mode="before")
    @classmethod
    def _teams_json(cls, value: Any) -> Any:
        return _json_setting("MSGFLASH_TEAMS", value, empty=[])

    @field_validator("roles", mode="before")
    @classmethod
    def _roles_json(cls, value: Any) -> Any:
        return _json_setting("MSGFLASH_ROLES", value, empty={})

    @field_validator("roles")
    @classmethod
    def _role_holders(cls, value: dict[str, dict[str, Role]]) -> dict[str, dict[str, Role]]:
        """Emails compare case-insensitively (lower-cased here); a `sub:` subject exactly."""
        checked: dict[str, dict[str, Role]] = {}
        for workspace, holders in value.items():
            if not WORKSPACE_NAME_RE.fullmatch(workspace):
                raise ValueError("MSGFLASH_ROLES: each key must be a workspace name (personal or a team name)")
            for holder in holders:
                if not ROLE_HOLDER_RE.fullmatch(holder):
                    raise ValueError(
                        "MSGFLASH_ROLES: each person is 'sub:<subject>' or an email address"
                    )
            checked[workspace] = {h if h.startswith("sub:") else h.lower(): role for h, role in holders.items()}
        return checked

    @field_validator("log_level", "log_level_all")
    @classmethod
    def _level(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"MSGFLASH_{str(info.field_name).upper()} must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @model_validator(mode="wrap")
    @classmethod
    def _forgiving(cls, data: Any, handler: ModelWrapValidatorHandler[Settings]) -> Settings:
        notices: list[str] = []
        if isinstance(data, dict):
            data = dict(cast("dict[str, Any]", data))  # the caller's mapping stays as given
            notices = _safe_reading(data)
        settings = handler(data)
        settings._notices = tuple(notices)
        return settings

    @property
    def notices(self) -> tuple[str, ...]:
        """Settings that could not be read and were replaced by their safe default (see `_safe_reading`)."""
        return self._notices

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        names = [team.name for team in self.teams]
        if len(names) != len(set(names)):
            raise ValueError("team names in MSGFLASH_TEAMS must be unique")
        known = ([PERSONAL] if self.api_key else []) + names
        if self.default_workspace and self.default_workspace not in known and not self.use_sandbox:
            raise ValueError(f"MSGFLASH_DEFAULT_WORKSPACE must be one of {known or ['(none configured)']}")
        self._check_oauth()
        return self

    def _check_oauth(self) -> None:
        if (self.oauth_issuer is None) != (self.public_url is None):
            raise ValueError("MSGFLASH_OAUTH_ISSUER and MSGFLASH_PUBLIC_URL go together (resource-server mode)")
        if self.oauth_issuer is not None and self.http_token is not None:
            raise ValueError("MSGFLASH_HTTP_TOKEN and MSGFLASH_OAUTH_ISSUER are two modes: set one")
        if self.roles and self.oauth_issuer is None:
            raise ValueError("MSGFLASH_ROLES applies to signed-in people: set MSGFLASH_OAUTH_ISSUER (resource-server mode)")
        for name, value in (("MSGFLASH_OAUTH_ISSUER", self.oauth_issuer), ("MSGFLASH_PUBLIC_URL", self.public_url)):
            if value is not None and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", value):
                raise ValueError(f"{name} must be an http(s) URL without query or fragment")

    @property
    def use_sandbox(self) -> bool:
        """The embedded sandbox runs when asked for, or when no key at all is configured."""
        if self.sandbox is not None:
            return self.sandbox
        return self.api_key is None and not self.teams

    def secrets(self) -> list[str]:
        """Every configured secret value, for the exact-value log and output scrubber."""
        values = [self.api_key, self.redis_url, self.http_token, self.principal_key, *(team.key for team in self.teams)]
        found = [value.get_secret_value() for value in values if value is not None]
        # Each HTTP token alone too: a log line or an error shows the one a client sent, not the list.
        tokens = self.http_token.get_secret_value().split(",") if self.http_token is not None else []
        return found + [token.strip() for token in tokens if token.strip()]


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # only when MSGFLASH_CONFIG names a file: most start-ups read the environment alone

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"MSGFLASH_CONFIG points to {path}, which does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"MSGFLASH_CONFIG {path} is not valid TOML: {exc}") from None
    return data


def load_settings(**overrides: Any) -> Settings:
    """Read the environment (and the TOML file it may name), apply CLI overrides, validate.

    Raises ConfigError with a message a person can act on; the message never contains a key.
    """
    from pydantic import ValidationError

    clean = {name: value for name, value in overrides.items() if value is not None}
    try:
        settings = Settings(**clean)
        if settings.config is not None:
            file_values = _read_toml(settings.config)
            merged = {**file_values, **clean}
            settings = Settings(**merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
    return settings
