"""The resolution-time setting: the default follows the reference's hint, the environment and the CLI
choose another, a typo is refused by name."""

from __future__ import annotations

from typing import Any

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


def test_a_campaign_an_older_sandbox_stored_still_reads_and_resumes() -> None:
    """A kept sandbox.sqlite3 holds campaigns frozen at creation, without the fields runs now keep."""
    from msgflash_mcp.sandbox import seed as S
    from msgflash_mcp.sandbox.keys import PERSONAL_KEY
    from msgflash_mcp.sandbox.store import dumps, loads

    from tests.fake_time import FakeClock

    from .helpers import make_app

    clock = FakeClock()
    sb = make_app(now=clock.now).state.sandbox
    old = {k: v for k, v in loads(sb.db.execute("SELECT data FROM campaigns WHERE id = ?",
                                                (S.SCHEDULED_CAMPAIGN_ID,)).fetchone()["data"]).items()
           if k not in ("_mode", "_frozen", "_resolved", "_base_planned", "_base_enq", "_skipped")}
    old["_recipients"] = [S.AWA_CONTACT_ID]
    old["stats"]["planned"] = 1
    sb.db.execute("UPDATE campaigns SET data = ? WHERE id = ?", (dumps(old), S.SCHEDULED_CAMPAIGN_ID))

    def call(method: str, path: str) -> tuple[int, Any]:
        status, payload, _ = sb.run(method, f"/api/v1/campaigns/{S.SCHEDULED_CAMPAIGN_ID}{path}", {}, PERSONAL_KEY,
                                    None, b"", {})
        return status, payload["data"]

    status, data = call("GET", "/stats")
    assert status == 200 and data["stats"]["planned"] == 1 and data["stats"]["queued"] == 1
    assert call("POST", "/pause")[0] == 200 and call("POST", "/resume")[0] == 200
    clock.advance(4 * 86_400)
    status, data = call("GET", "")
    assert data["status"] == "completed" and data["stats"]["sent"] + data["stats"]["failed"] == 1
