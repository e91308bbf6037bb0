"""The verifiers' own cost per call, in-process: static bearer tokens vs OAuth JWTs (RS256, a local issuer).

The same measurement `bench/load.py --auth` prints last, without its two servers and their load run, so a change
to the verifier (server/auth/verifier.py, server/auth/jwks.py) can be measured alone and quickly.

    python bench/verifier.py [people]   # default 20 distinct signed-in people's tokens
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).parent))
from _issuer import local_issuer
from load import VERIFY_BLOCK, VERIFY_BLOCKS, verifier_costs


async def run(people: int) -> None:
    from msgflash_mcp.server.auth.scopes import BASELINE

    resource = "http://127.0.0.1:9/mcp"  # never reached: only the tokens' audience
    with local_issuer() as issuer:
        static_tokens = ["bench-static-" + secrets.token_hex(16) for _ in range(people)]
        oauth_tokens = [issuer.token(f"person-{n}", resource, BASELINE) for n in range(people)]
        static_us, oauth_us = await verifier_costs(issuer, static_tokens, oauth_tokens, resource)
    print(f"verify_token per call ({people} tokens each, median of {VERIFY_BLOCKS} interleaved blocks of "
          f"{VERIFY_BLOCK}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}): "
          f"static {static_us:.1f} us, OAuth JWT RS256 {oauth_us:.1f} us")


if __name__ == "__main__":
    anyio.run(run, int(sys.argv[1]) if len(sys.argv) > 1 else 20)
