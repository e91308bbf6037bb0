"""Workspace configuration is validated at start, with errors that name the fix and never show a key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from msgflash_mcp.server.core.settings import ConfigError, Settings, load_settings

PERSONAL = "msgf_live_" + "1f" * 32
TEAM = "msgf_team_" + "2e" * 32
TEAM_ID = "11111111-2222-4333-8444-555555555555"


def test_a_personal_key_and_teams_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSGFLASH_API_KEY", PERSONAL)
    monkeypatch.setenv("MSGFLASH_TEAMS", json.dumps([{"name": "acme", "team_id": TEAM_ID, "key": TEAM}]))
    monkeypatch.setenv("MSGFLASH_DEFAULT_WORKSPACE", "acme")
    settings = load_settings()
    assert settings.api_key is not None and settings.api_key.get_secret_value() == PERSONAL
    assert [t.name for t in settings.teams] == ["acme"]
    assert str(settings.teams[0].team_id) == TEAM_ID
    assert settings.use_sandbox is False
    assert PERSONAL not in repr(settings) and TEAM not in str(settings)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MSGFLASH_API_KEY": "msgf_live_short"}, "MSGFLASH_API_KEY must be 'msgf_live_'"),
        ({"MSGFLASH_API_KEY": TEAM}, "MSGFLASH_API_KEY must be 'msgf_live_'"),
        ({"MSGFLASH_TEAMS": "[{not json"}, "MSGFLASH_TEAMS is not valid JSON"),
        ({"MSGFLASH_TEAMS": json.dumps([{"name": "acme", "team_id": "nope", "key": TEAM}])}, "team_id"),
        ({"MSGFLASH_TEAMS": json.dumps([{"name": "acme", "team_id": TEAM_ID, "key": PERSONAL}])}, "team key must be"),
        ({"MSGFLASH_TEAMS": json.dumps([{"name": "personal", "team_id": TEAM_ID, "key": TEAM}])}, "not 'personal'"),
        (
            {"MSGFLASH_TEAMS": json.dumps([{"name": "a", "team_id": TEAM_ID, "key": TEAM}] * 2)},
            "must be unique",
        ),
        ({"MSGFLASH_API_KEY": PERSONAL, "MSGFLASH_DEFAULT_WORKSPACE": "acme"}, "MSGFLASH_DEFAULT_WORKSPACE must be one of"),
    ],
)
def test_bad_configuration_is_explained_without_the_key(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert expected in message
    for secret in (PERSONAL, TEAM, "msgf_live_short"):
        assert secret not in message


def test_a_toml_file_configures_teams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "msgflash.toml"
    config.write_text(
        f'api_key = "{PERSONAL}"\ndefault_workspace = "acme"\n\n'
        f'[[teams]]\nname = "acme"\nteam_id = "{TEAM_ID}"\nkey = "{TEAM}"\n'
    )
    monkeypatch.setenv("MSGFLASH_CONFIG", str(config))
    settings = load_settings()
    assert settings.default_workspace == "acme" and settings.teams[0].name == "acme"


def test_no_key_at_all_means_the_sandbox() -> None:
    assert Settings().use_sandbox is True
    assert Settings(api_key=PERSONAL).use_sandbox is False  # type: ignore[arg-type]
