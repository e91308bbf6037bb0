"""A stand-in authorization server for benches: a fresh RSA key, its JWKS and OIDC metadata served on 127.0.0.1
by a tiny HTTP server in a thread, and access tokens signed the way the verifier expects (RFC 9068 `at+jwt`).

No provider is needed: the bench measures our verifier, which only fetches the metadata and the key set."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@dataclass
class LocalIssuer:
    issuer: str
    kid: str = field(default_factory=lambda: "bench-" + secrets.token_hex(4))
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), repr=False
    )

    def jwks(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def token(self, subject: str, resource: str, scope: str, lifetime: int = 3600) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": subject, "aud": resource, "client_id": "bench-client", "scope": scope,
                  "iat": now, "exp": now + lifetime, "jti": secrets.token_hex(8)}
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"typ": "at+jwt", "kid": self.kid})


@contextmanager
def local_issuer() -> Iterator[LocalIssuer]:
    """A running issuer on a free loopback port; stopped on exit."""
    documents: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = documents.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the bench prints figures, not access logs

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer = LocalIssuer(f"http://127.0.0.1:{httpd.server_address[1]}")
    documents["/.well-known/openid-configuration"] = json.dumps(
        {"issuer": issuer.issuer, "jwks_uri": f"{issuer.issuer}/jwks"}).encode()
    documents["/jwks"] = json.dumps(issuer.jwks()).encode()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
