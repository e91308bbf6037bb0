"""`msgflash-mcp doctor` in resource-server mode, against the running provider and server."""

from __future__ import annotations

import pytest
from msgflash_mcp.server.doctor import diagnose

from tests.oauth.conftest import Stack

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def _env(monkeypatch: pytest.MonkeyPatch, stack: Stack, issuer: str) -> dict[str, str]:
    env = {"MSGFLASH_SANDBOX": "1", "MSGFLASH_OAUTH_ISSUER": issuer, "MSGFLASH_PUBLIC_URL": stack.origin}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


async def test_doctor_checks_issuer_keys_and_published_metadata(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    report = await diagnose(_env(monkeypatch, stack, stack.provider.issuer))
    found = {f.area: f for f in report.findings}
    assert found["OAuth issuer"].ok and stack.provider.issuer in found["OAuth issuer"].detail
    assert found["OAuth JWKS"].ok and found["OAuth JWKS"].detail.startswith("1 signing key")
    assert found["OAuth metadata"].ok, found["OAuth metadata"].detail
    assert not [f for f in report.findings if f.area.startswith("OAuth") and not f.ok]


async def test_doctor_names_an_issuer_that_differs_by_a_trailing_slash(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    report = await diagnose(_env(monkeypatch, stack, stack.provider.issuer + "/"))
    problem = next(f for f in report.problems if f.area == "OAuth issuer")
    assert "not exactly the configured" in problem.detail and "trailing slash" in problem.fix


async def test_doctor_refuses_plain_http_off_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSGFLASH_SANDBOX", "1")
    monkeypatch.setenv("MSGFLASH_OAUTH_ISSUER", "http://id.invalid")
    monkeypatch.setenv("MSGFLASH_PUBLIC_URL", "https://mcp.invalid")
    report = await diagnose({})
    assert any(f.area == "OAuth" and "MSGFLASH_OAUTH_ISSUER is plain http" in f.detail for f in report.problems)


async def test_doctor_warns_when_resource_server_mode_has_no_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSGFLASH_SANDBOX", "1")
    monkeypatch.setenv("MSGFLASH_OAUTH_ISSUER", "https://id.invalid")
    monkeypatch.setenv("MSGFLASH_PUBLIC_URL", "https://mcp.invalid")
    found = {f.area: f for f in (await diagnose({})).findings}
    assert found["OAuth roles"].warning and "every signed-in person is refused" in found["OAuth roles"].detail
    monkeypatch.setenv("MSGFLASH_ROLES", '{"personal": {"alice@example.com": "admin", "sub:bot": "viewer"}}')
    found = {f.area: f for f in (await diagnose({})).findings}
    assert not found["OAuth roles"].warning and found["OAuth roles"].detail.startswith("2 person(s)")
