"""`msgflash-mcp doctor`: healthy on the sandbox, precise about each problem, never prints a key."""

from __future__ import annotations

import json
import socket

import pytest
from msgflash_mcp.server.doctor import run_doctor

CANARY_PERSONAL = "msgf_live_" + "c4a7" * 16  # well-formed, unknown to any API
CANARY_TEAM = "msgf_team_" + "7ea1" * 16


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def doctor(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = run_doctor()
    out, err = capsys.readouterr()
    return code, out + err


def assert_no_key(output: str, *keys: str) -> None:
    for key in keys:
        assert key not in output
        assert key[10:26] not in output  # not even a fragment of the secret part
    assert "5a5a5a5a5a5a" not in output and "7e7e7e7e7e7e7e7e" not in output.replace("7e7e7e7e-", "")


def test_no_key_runs_the_sandbox_and_is_healthy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = doctor(capsys)
    assert code == 0, out
    assert "SANDBOX" in out and "Healthy." in out
    assert "personal" in out and "sandbox-team" in out
    assert "boutique-principale" in out and "connected" in out  # instance states through the ApiClient
    assert "Pro" in out and "/5000" in out  # plan and limits
    assert_no_key(out)


def test_malformed_personal_key_is_named_and_not_echoed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "msgf_live_CANARYdeadbeefCANARY"
    monkeypatch.setenv("MSGFLASH_API_KEY", canary)
    code, out = doctor(capsys)
    assert code == 1
    assert "MSGFLASH_API_KEY" in out and "64 lowercase hex" in out and "fix:" in out
    assert "CANARY" not in out and "deadbeef" not in out


def test_team_key_in_the_personal_variable(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSGFLASH_API_KEY", CANARY_TEAM)
    code, out = doctor(capsys)
    assert code == 1
    assert "MSGFLASH_API_KEY holds a team key" in out and "MSGFLASH_TEAMS" in out
    assert_no_key(out, CANARY_TEAM)


def test_unreachable_api(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    monkeypatch.setenv("MSGFLASH_API_KEY", CANARY_PERSONAL)
    monkeypatch.setenv("MSGFLASH_BASE_URL", f"http://127.0.0.1:{port}")
    code, out = doctor(capsys)
    assert code == 1
    assert f"cannot reach http://127.0.0.1:{port}" in out
    assert "MSGFLASH_BASE_URL" in out and "1 problem(s) found." in out
    assert_no_key(out, CANARY_PERSONAL)


def test_teams_bad_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSGFLASH_TEAMS", '[{"name": "acme", "team_id": "x", "key": "' + CANARY_TEAM + '"')
    code, out = doctor(capsys)
    assert code == 1
    assert "MSGFLASH_TEAMS is not valid JSON (line 1" in out and "JSON list like" in out
    assert_no_key(out, CANARY_TEAM)


def test_teams_bad_team_id_and_short_key(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    teams = [
        {"name": "acme", "team_id": "not-a-uuid", "key": CANARY_TEAM},
        {"name": "Bad Name", "team_id": "7e7e7e7e-0000-4000-8000-000000000001", "key": "msgf_team_SHORTcanary"},
    ]
    monkeypatch.setenv("MSGFLASH_TEAMS", json.dumps(teams))
    code, out = doctor(capsys)
    assert code == 1
    assert "MSGFLASH_TEAMS[0] (acme): team_id is not a UUID" in out
    assert "MSGFLASH_TEAMS[1]: team name is not valid" in out
    assert "msgf_team_ but the rest is 11 characters" in out
    assert_no_key(out, CANARY_TEAM)
    assert "SHORTcanary" not in out


def test_unreachable_redis_is_a_problem_without_its_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MSGFLASH_SANDBOX", "1")
    monkeypatch.setenv("MSGFLASH_REDIS_URL", f"redis://:hunter2canary@127.0.0.1:{closed_port()}/0")
    code, out = doctor(capsys)
    assert code == 1
    assert "cannot reach Redis at redis://127.0.0.1:" in out and "MSGFLASH_REDIS_URL" in out
    assert "hunter2canary" not in out


def test_confirm_off_is_a_loud_warning_not_a_failure(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MSGFLASH_CONFIRM", "off")
    code, out = doctor(capsys)
    assert code == 0
    assert "WITHOUT asking anyone" in out and "warn" in out


def test_plain_http_base_url_is_refused_before_any_request(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MSGFLASH_API_KEY", CANARY_PERSONAL)
    monkeypatch.setenv("MSGFLASH_BASE_URL", "http://api.example.invalid")
    code, out = doctor(capsys)
    assert code == 1
    assert "plain http" in out and "use https" in out
    assert "cannot reach" not in out  # no connection attempted
    assert_no_key(out, CANARY_PERSONAL)


def test_other_config_errors_name_the_variable(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSGFLASH_LOG_LEVEL", "LOUD")
    code, out = doctor(capsys)
    assert code == 1
    assert "MSGFLASH_LOG_LEVEL" in out


def test_the_command_line_entry_point() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith("MSGFLASH_")}
    env["MSGFLASH_API_KEY"] = "msgf_live_CANARYcli"
    command = [str(Path(sys.executable).with_name("msgflash-mcp")), "doctor"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert done.returncode == 1
    assert "MSGFLASH_API_KEY" in done.stdout and "CANARYcli" not in done.stdout + done.stderr
