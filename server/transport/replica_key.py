"""Replicas sharing a Redis must name people with one principal key; this notices when they do not.

A person's principal is a keyed hash (server/call/principal.py). A replica started with another key names
alice differently: her confirmations, her active workspace and her 2026-07-28 rounds from the other
replicas are a stranger's there. That fails safe, but silently, and what she sees depends on which replica
answered. So the first HTTP replica to start records a fingerprint of its key in the shared Redis (an HMAC
of a fixed label: the key cannot be recovered from it), and a replica whose fingerprint differs refuses to
start, naming the fix. `doctor` runs the same comparison without writing.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from ..core.redis_reply import text_or_none

FINGERPRINT_KEY = "msgflash:principal-key-fingerprint"
_LABEL = b"msgflash-mcp principal key fingerprint v1"

FIX = (
    f"give every replica the same MSGFLASH_PRINCIPAL_KEY; if you changed it on purpose on all of them, delete "
    f"the Redis key {FINGERPRINT_KEY} (redis-cli DEL {FINGERPRINT_KEY}) before starting them: people then get "
    "new principals, so their pending confirmations and active workspaces start afresh"
)


def fingerprint(principal_key: bytes) -> str:
    return hmac.new(principal_key, _LABEL, hashlib.sha256).hexdigest()[:32]


async def recorded_fingerprint(redis: Any) -> str | None:
    """The fingerprint the replicas recorded, if any (doctor: reads only)."""
    return text_or_none(await redis.get(FINGERPRINT_KEY))


async def claim_or_compare(redis: Any, principal_key: bytes) -> str | None:
    """Records this replica's fingerprint when none is; returns the problem when another one is recorded."""
    mine = fingerprint(principal_key)
    await redis.set(FINGERPRINT_KEY, mine, nx=True)
    recorded = await recorded_fingerprint(redis)
    if recorded == mine:
        return None
    return f"this replica's principal key differs from the one the replicas sharing this Redis use; {FIX}"
