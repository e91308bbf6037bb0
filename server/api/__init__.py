"""The MsgFlash API client and what sits between it and the wire.

`client` (one `httpx2.AsyncClient` per process; envelope, errors, path encoding, the `Api` a tool
call holds), `retry` (what may be retried, what is 'outcome unknown'), `ratelimit` (one GCRA
schedule per key, in memory or Redis, taken by every attempt in the transport).
"""

from .client import USER_AGENT, Api, ApiClient, expand, given

__all__ = ["USER_AGENT", "Api", "ApiClient", "expand", "given"]
