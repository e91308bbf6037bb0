"""Resource-server mode's settings: two that go together, one mode at a time, issuers kept exactly."""

from __future__ import annotations

import pytest
from msgflash_mcp.server.auth.resource_server import resource_url
from msgflash_mcp.server.core.settings import ConfigError, load_settings


def test_issuer_and_public_url_go_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSGFLASH_OAUTH_ISSUER", "https://id.example.com")
    with pytest.raises(ConfigError, match="go together"):
        load_settings()


def test_static_tokens_and_oauth_are_two_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSGFLASH_OAUTH_ISSUER", "https://id.example.com")
    monkeypatch.setenv("MSGFLASH_PUBLIC_URL", "https://mcp.example.com")
    monkeypatch.setenv("MSGFLASH_HTTP_TOKEN", "a-static-token-1234")
    with pytest.raises(ConfigError, match="two modes") as refused:
        load_settings()
    assert "a-static-token-1234" not in str(refused.value)


def test_the_issuer_is_kept_exactly_and_the_resource_is_the_mcp_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSGFLASH_OAUTH_ISSUER", "https://id.example.com/realms/acme/")
    monkeypatch.setenv("MSGFLASH_PUBLIC_URL", "https://mcp.example.com/")
    settings = load_settings()
    assert settings.oauth_issuer == "https://id.example.com/realms/acme/"  # what the operator wrote, unchanged
    assert settings.public_url is not None and resource_url(settings.public_url) == "https://mcp.example.com/mcp"


def test_a_url_with_a_query_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSGFLASH_OAUTH_ISSUER", "https://id.example.com?x=1")
    monkeypatch.setenv("MSGFLASH_PUBLIC_URL", "https://mcp.example.com")
    with pytest.raises(ConfigError, match="MSGFLASH_OAUTH_ISSUER must be an http"):
        load_settings()
