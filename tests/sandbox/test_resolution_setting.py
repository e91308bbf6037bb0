"""The resolution-time setting: the default follows the reference's hint, the environment and the CLI
choose another, a typo is refused by name."""

from __future__ import annotations

import pytest
from msgflash_mcp.sandbox.app import SandboxConfig
from msgflash_mcp.sandbox.campaign_runs import RESOLUTION_ENV, resolution_from_env
from msgflash_mcp.server.__main__ import parse


def test_the_default_is_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RESOLUTION_ENV, raising=False)
    assert SandboxConfig().resolution == "start"


def test_the_environment_chooses_and_a_typo_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RESOLUTION_ENV, " Run ")
    assert SandboxConfig().resolution == "run"
    monkeypatch.setenv(RESOLUTION_ENV, "creation")
    with pytest.raises(ValueError, match="MSGFLASH_SANDBOX_RESOLUTION='creation': expected one of create, start, run"):
        resolution_from_env()


def test_the_sandbox_command_takes_the_setting() -> None:
    assert parse(["sandbox", "--resolution", "create"]).resolution == "create"
    assert parse(["sandbox"]).resolution is None  # then the environment, else the default
