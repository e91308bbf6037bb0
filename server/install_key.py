"""The install's secret key: it names HTTP principals (server/call/principal.py), keys the audit
log's hashes (server/audit.py) and, when replicas share a Redis, seals the 2026-07-28 round state.

`MSGFLASH_PRINCIPAL_KEY` when configured. Otherwise a random 256-bit key, generated on first use and
kept in the user data dir (`install.key`, owner-only, 0600), so principals stay stable across
restarts and a fixed public key never names them: with a public key anyone reading Redis key names
or audit lines could confirm a guessed token or phone number offline.

Why a file and not Redis: the key guards what Redis holds. Kept beside the data, whoever reads the
Redis (a shared instance, a leaked dump) would read the key too. Replicas sharing a Redis therefore
set one `MSGFLASH_PRINCIPAL_KEY` (each replica's own file would name one token differently on each),
and start-up warns when a Redis is configured without it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from .core.settings import ConfigError, Settings

log = logging.getLogger("msgflash_mcp")

KEY_FILE = "install.key"
_KEY_BYTES = 32
_AUDIT_PURPOSE = b"msgflash-mcp/audit-hash/v1"
_REQUEST_STATE_PURPOSE = b"msgflash-mcp/request-state/v1"


def key_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("msgflash-mcp", appauthor=False)) / KEY_FILE


def principal_key(settings: Settings) -> bytes:
    """The HMAC key naming HTTP principals: the configured one, else this install's kept key."""
    if settings.principal_key is not None:
        return settings.principal_key.get_secret_value().encode()
    return kept_key(key_path())


def audit_key(settings: Settings) -> bytes:
    """The key of the audit log's hashes, derived from the principal key (one secret to keep, two uses)."""
    return hmac.new(principal_key(settings), _AUDIT_PURPOSE, hashlib.sha256).digest()


def request_state_key(settings: Settings) -> bytes | None:
    """The key sealing 2026-07-28 `requestState` when replicas share a Redis (derived like `audit_key`), so a
    round asked on one replica can be answered on another; None on a lone server, whose SDK seals with a key
    of its own process (a restart then asks again, which is safe)."""
    if settings.redis_url is None:
        return None
    return hmac.new(principal_key(settings), _REQUEST_STATE_PURPOSE, hashlib.sha256).digest()


def warn_if_replicas_cannot_agree(settings: Settings) -> None:
    if settings.redis_url is not None and settings.principal_key is None:
        log.warning(
            "msgflash-mcp: MSGFLASH_REDIS_URL is set without MSGFLASH_PRINCIPAL_KEY: this server names HTTP "
            "clients with its own key (%s); replicas sharing the Redis must share one MSGFLASH_PRINCIPAL_KEY",
            key_path(),
        )


@functools.cache
def kept_key(path: Path) -> bytes:
    """The key kept at `path`, created (random, 0600) when there is none. Several processes starting at once
    agree: the key is written to a private temporary file and linked into place, and only one link wins."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    candidate = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(_KEY_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process kept its key first: use that one
            os.link(candidate, path)
    finally:
        candidate.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> bytes:
    key = path.read_text(encoding="ascii", errors="replace").strip()
    if len(key) < 2 * _KEY_BYTES:
        raise ConfigError(
            f"{path} does not hold a key (64 hex characters); delete it to have a new one generated "
            "(HTTP clients then get new identities), or set MSGFLASH_PRINCIPAL_KEY"
        )
    return key.encode()
