"""Switches a host fills from a form (Claude Desktop's extension settings, a client's env block) never stop the
server: case and spaces do not matter, and a value that means nothing runs on the safe side (confirmation on,
read-only on) with a notice the person sees: the server's instructions, `msgflash-mcp doctor`, stderr."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.core.settings import ConfirmMode, load_settings
from msgflash_mcp.server.doctor import run_doctor

from ..conftest import make_settings

CANARY = "msgf_live_" + "c4a7" * 16  # a key pasted into the wrong field is never echoed


@pytest.mark.parametrize(
    ("given", "mode"),
    [("Off", ConfirmMode.OFF), (" TOKEN ", ConfirmMode.TOKEN), ("auto\n", ConfirmMode.AUTO), ("Auto", ConfirmMode.AUTO)],
)
def test_confirm_reads_any_case_and_spacing_without_a_notice(
    monkeypatch: pytest.MonkeyPatch, given: str, mode: ConfirmMode
) -> None:
    monkeypatch.setenv("MSGFLASH_CONFIRM", given)
    settings = load_settings()
    assert settings.confirm is mode
    assert settings.notices == ()


@pytest.mark.parametrize("given", ["Offf", "no", "", CANARY])
def test_an_unknown_confirm_mode_keeps_confirmation_on_and_says_so(monkeypatch: pytest.MonkeyPatch, given: str) -> None:
    monkeypatch.setenv("MSGFLASH_CONFIRM", given)
    settings = load_settings()
    assert settings.confirm is ConfirmMode.AUTO
    (notice,) = settings.notices
    assert "MSGFLASH_CONFIRM" in notice and "confirmation stays on" in notice and "auto, token or off" in notice
    assert CANARY not in notice and "Offf" not in notice


@pytest.mark.parametrize(("given", "read_only"), [("true", True), ("False", False), (" TRUE ", True), ("0", False)])
def test_read_only_reads_what_hosts_send(monkeypatch: pytest.MonkeyPatch, given: str, read_only: bool) -> None:
    monkeypatch.setenv("MSGFLASH_READ_ONLY", given)
    settings = load_settings()
    assert settings.read_only is read_only
    assert settings.notices == ()


def test_an_unreadable_read_only_switch_fails_closed_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSGFLASH_READ_ONLY", "maybe")
    monkeypatch.setenv("MSGFLASH_CONFIRM", "sometimes")
    settings = load_settings()
    assert settings.read_only is True
    assert [notice.split(" ", 1)[0] for notice in settings.notices] == ["MSGFLASH_CONFIRM", "MSGFLASH_READ_ONLY"]


def test_a_toml_file_is_read_the_same_forgiving_way(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "msgflash.toml"
    config.write_text('confirm = "Tokens"\n', encoding="utf-8")
    monkeypatch.setenv("MSGFLASH_CONFIG", str(config))
    settings = load_settings()
    assert settings.confirm is ConfirmMode.AUTO and len(settings.notices) == 1


@pytest.mark.anyio
async def test_the_model_is_told_to_pass_the_notice_on(sandbox_app: Any) -> None:
    server = build_server(make_settings(confirm="Offf"), sandbox_app=sandbox_app)
    with anyio.fail_after(10):
        async with Client(server) as client:
            instructions = client.instructions or ""
    assert "SETTINGS NOTICE (tell the user): MSGFLASH_CONFIRM is not auto, token or off" in instructions
    assert "need confirmation" in instructions and "confirmation is OFF" not in instructions


@pytest.mark.anyio
async def test_a_clean_configuration_has_no_notice(client: Client) -> None:
    assert "SETTINGS NOTICE" not in (client.instructions or "")


def test_doctor_shows_the_notice_as_a_warning_not_a_failure(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MSGFLASH_CONFIRM", "0ff")
    code = run_doctor()
    out, err = capsys.readouterr()
    assert code == 0, out
    row = next(line for line in (out + err).splitlines() if "setting ignored" in line)
    assert "MSGFLASH_CONFIRM" in row and "warn" in row
