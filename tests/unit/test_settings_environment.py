"""How Settings read the environment (server/core/settings.py): MSGFLASH_ + the field's name in any case,
values as found (validators split lists and decode JSON), keyword arguments (CLI flags) over the environment."""

from __future__ import annotations

import os

import pytest
from msgflash_mcp.server.core.settings import Settings, load_settings

PERSONAL = "msgf_live_" + "1f" * 32


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower().startswith("msgflash_"):
            monkeypatch.delenv(name)


def test_a_variable_name_matches_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("msgflash_api_key", PERSONAL)
    monkeypatch.setenv("MsgFlash_Read_Only", "true")
    settings = Settings()
    assert settings.api_key is not None and settings.api_key.get_secret_value() == PERSONAL
    assert settings.read_only is True


def test_list_settings_are_split_and_numbers_parsed_from_their_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSGFLASH_TOOLSETS", "messages, contacts,")
    monkeypatch.setenv("MSGFLASH_RATE_LIMIT", "2.5")
    monkeypatch.setenv("MSGFLASH_MAX_SESSIONS_PER_CLIENT", "4")
    settings = Settings()
    assert (settings.toolsets, settings.rate_limit, settings.max_sessions_per_client) == (["messages", "contacts"], 2.5, 4)


def test_a_keyword_argument_wins_over_the_environment_and_unknown_variables_are_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MSGFLASH_SANDBOX", "false")
    monkeypatch.setenv("MSGFLASH_NOT_A_SETTING", "whatever")
    assert Settings().sandbox is False
    assert load_settings(sandbox=True).sandbox is True
    assert Settings(sandbox_db=None).sandbox_db is None


def test_an_empty_variable_is_a_value_not_an_absence(monkeypatch: pytest.MonkeyPatch) -> None:
    # As before: MSGFLASH_API_KEY="" is a malformed key, not "no key" (a host's empty field says so loudly).
    monkeypatch.setenv("MSGFLASH_API_KEY", "")
    with pytest.raises(Exception, match="MSGFLASH_API_KEY must be"):
        load_settings()
