"""Confirmation tokens in Redis, so every replica behind a load balancer honours the same tokens.

One hash per token under `msgflash:cfm:<sha256 of the token>` (the raw token is never stored):

    record  JSON of the TokenRecord without `used`/`result` (tool, binding, expires_at)
    used    "0" | "1"
    result  JSON of the first call's result, once it finished (for replays), without the secrets it showed
            once (Guard.save_result: the entry outlives the call, readable by whoever reads the Redis)

The key carries a real-time TTL so abandoned tokens disappear; the Guard still checks `expires_at`
against its own (injectable) clock. `claim` is one Lua script, so exactly one claimer wins across
every process sharing the Redis; `save_result` only writes to a key that still exists (never
resurrects an expired token as a half record) and extends its life so replays keep finding it.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..core.redis_reply import text
from .confirm import ClaimStatus, TokenRecord

KEY_PREFIX = "msgflash:cfm:"

# 0: missing, 1: already used, 2: claimed by this caller.
_CLAIM = """
local used = redis.call('HGET', KEYS[1], 'used')
if not used then return 0 end
if used == '1' then return 1 end
redis.call('HSET', KEYS[1], 'used', '1')
return 2
"""

_SAVE_RESULT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'result', ARGV[1])
if tonumber(ARGV[2]) > redis.call('PTTL', KEYS[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
"""

# A new key claimed as used in one step (accepted elicitation rounds): 2 claimed, 1 existed already.
_CLAIM_NEW = """
if redis.call('HSETNX', KEYS[1], 'record', ARGV[1]) == 0 then return 1 end
redis.call('HSET', KEYS[1], 'used', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 2
"""

_CLAIM_STATUS: dict[int, ClaimStatus] = {0: "missing", 1: "used", 2: "claimed"}


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisTokenStore:
    """`TokenStore` on a `redis.asyncio.Redis` client (bytes or decoded responses both work)."""

    def __init__(self, redis: Any, *, prefix: str = KEY_PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix
        self._claim = redis.register_script(_CLAIM)
        self._save = redis.register_script(_SAVE_RESULT)
        self._claim_new = redis.register_script(_CLAIM_NEW)

    def key(self, token_hash: str) -> str:
        return self._prefix + token_hash

    async def put(self, token_hash: str, record: TokenRecord, ttl: float) -> None:
        core = record.model_dump(mode="json", exclude={"used", "result"})
        mapping = {"record": json.dumps(core, separators=(",", ":")), "used": "1" if record.used else "0"}
        if record.result is not None:
            mapping["result"] = json.dumps(record.result, separators=(",", ":"))
        key = self.key(token_hash)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=mapping)
            pipe.pexpire(key, _ms(ttl))
            await pipe.execute()

    async def get(self, token_hash: str) -> TokenRecord | None:
        raw: dict[Any, Any] = await self._redis.hgetall(self.key(token_hash))
        fields = {text(k): text(v) for k, v in raw.items()}
        if "record" not in fields:
            return None
        data = json.loads(fields["record"])
        data["used"] = fields.get("used") == "1"
        if "result" in fields:
            data["result"] = json.loads(fields["result"])
        return TokenRecord.model_validate(data)

    async def claim(self, token_hash: str) -> ClaimStatus:
        status = int(await self._claim(keys=[self.key(token_hash)]))
        return _CLAIM_STATUS[status]

    async def claim_new(self, key: str, record: TokenRecord, ttl: float) -> ClaimStatus:
        core = json.dumps(record.model_dump(mode="json", exclude={"used", "result"}), separators=(",", ":"))
        status = int(await self._claim_new(keys=[self.key(key)], args=[core, _ms(ttl)]))
        return _CLAIM_STATUS[status]

    async def save_result(self, token_hash: str, result: dict[str, Any], ttl: float) -> None:
        payload = json.dumps(result, separators=(",", ":"), ensure_ascii=False)
        await self._save(keys=[self.key(token_hash)], args=[payload, _ms(ttl)])

    async def delete(self, key: str) -> None:
        await self._redis.delete(self.key(key))
