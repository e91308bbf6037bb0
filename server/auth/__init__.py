"""OAuth 2.1 resource-server mode: people sign in at the operator's authorization server, and this server
verifies their JWT access tokens (signature, issuer, audience, expiry, type) and serves RFC 9728 metadata."""
