"""Who has opted out in the sandbox's seeded account: its simulated people write back, and a few of their
replies to the seeded messages are "STOP" (sandbox/replies.py). Every sending plan leaves them out, so a
test counting the recipients of a selection counts it without them."""

from __future__ import annotations

import functools
from typing import Any

from msgflash_mcp.sandbox import seed as S
from msgflash_mcp.sandbox.app import SandboxConfig, create_app
from msgflash_mcp.sandbox.store import loads
from msgflash_mcp.tools.inbound import is_opt_out


def opted_out_in(sandbox: Any, ws: str) -> frozenset[str]:
    """The numbers that wrote an opt-out word to workspace `ws` of a running sandbox, as it stands now."""
    sandbox.tick()  # replies land lazily, on the sandbox clock
    rows = sandbox.db.execute("SELECT data FROM messages WHERE ws = ?", (ws,)).fetchall()
    inbound = (loads(row["data"]) for row in rows)
    return frozenset(m["from"] for m in inbound if m.get("direction") == "inbound" and is_opt_out(m.get("body")))


@functools.cache
def seeded_opt_outs(ws: str = S.USER_ID) -> frozenset[str]:
    """Those of a freshly seeded sandbox (deterministic: the same on every run)."""
    return opted_out_in(create_app(SandboxConfig(db_path=":memory:", rate_limit=0)).state.sandbox, ws)


def reachable(phones: list[str], ws: str = S.USER_ID) -> list[str]:
    """`phones` without the seeded opt-outs: who a sending plan keeps."""
    return [p for p in phones if p not in seeded_opt_outs(ws)]
