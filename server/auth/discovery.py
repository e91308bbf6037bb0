"""Reading the authorization server's metadata (RFC 8414, else OpenID Connect discovery) for its JWKS URI.

The issuer in the metadata must be exactly the configured one (RFC 8414 §3.3, no normalising): a trailing
slash of difference is how an SDK's own client ends up refusing with "issuer mismatch".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2

from ..wire import json_object


class DiscoveryError(Exception):
    """The authorization server's metadata could not be read or does not match; the message says which."""


@dataclass(frozen=True)
class ServerMetadata:
    issuer: str
    jwks_uri: str
    url: str  # where it was read


def metadata_urls(issuer: str) -> list[str]:
    """RFC 8414 §3.1 inserts the well-known segment before the issuer's path; OIDC appends it."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    origin = f"{parts.scheme}://{parts.netloc}"
    return [
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{issuer.rstrip('/')}/.well-known/openid-configuration",
    ]


async def discover(issuer: str, http: httpx2.AsyncClient) -> ServerMetadata:
    problems: list[str] = []
    for url in metadata_urls(issuer):
        try:
            response = await http.get(url)
        except httpx2.HTTPError as exc:
            problems.append(f"{url}: {type(exc).__name__}")
            continue
        if response.status_code != 200:
            problems.append(f"{url}: HTTP {response.status_code}")
            continue
        try:
            body: Any = response.json()
        except ValueError:
            problems.append(f"{url}: not JSON")
            continue
        document = json_object(body)
        if document is None:
            problems.append(f"{url}: not a JSON object")
            continue
        found, jwks_uri = document.get("issuer"), document.get("jwks_uri")
        if found != issuer:
            raise DiscoveryError(f"{url} names the issuer {found!r}, not exactly the configured {issuer!r}")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise DiscoveryError(f"{url} names no jwks_uri")
        return ServerMetadata(issuer=issuer, jwks_uri=jwks_uri, url=url)
    raise DiscoveryError("no authorization server metadata: " + "; ".join(problems))
