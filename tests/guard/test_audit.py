"""The audit log: one JSONL line per mutating call, whatever its outcome; no bodies, phones or keys."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from msgflash_mcp.sandbox.keys import PERSONAL_KEY, TEAM_KEY
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.audit import redact_args

from tests.conftest import call_error, call_ok, make_settings, mutations

from .conftest import Elicitor, personal_contacts

pytestmark = pytest.mark.anyio

KEYS = {"time", "tool", "workspace", "principal", "args", "confirmation", "outcome", "api_id"}


def read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


async def test_every_mutating_call_is_one_line(tmp_path: Path, sandbox_app: Any, ledger: Any) -> None:
    log = tmp_path / "audit" / "audit.jsonl"
    server = build_server(make_settings(audit_log=log), sandbox_app=sandbox_app)
    victim, declined = personal_contacts()[1:3]
    secret_name, secret_phone = "Zacharie Confidentiel", "+33698761234"

    async with Client(server) as client:
        await call_ok(client, "list_contacts", {"limit": 2})  # reads are not audited
        assert read(log) == []

        created = await call_ok(client, "create_contact", {"name": secret_name, "phone": secret_phone, "tags": ["vip"]})
        pending = await call_ok(client, "delete_contact", {"contact_id": victim["id"]})
        token = pending["confirm_token"]
        await call_ok(client, "delete_contact", {"contact_id": victim["id"], "confirm_token": token})
        replay = await call_ok(client, "delete_contact", {"contact_id": victim["id"], "confirm_token": token})
        assert replay["status"] == "replayed"
        await call_error(client, "delete_contact", {"contact_id": declined["id"], "confirm_token": token})
        await call_error(client, "update_contact", {"contact_id": "00000000-0000-4000-8000-00000000dead", "name": "X"})

    async with Client(server, elicitation_callback=Elicitor("decline")) as client:
        await call_ok(client, "delete_contact", {"contact_id": declined["id"]})
    async with Client(server, elicitation_callback=Elicitor("accept")) as client:
        await call_ok(client, "delete_contact", {"contact_id": declined["id"]})

    entries = read(log)
    summary = [(e["tool"], e["confirmation"], e["outcome"]) for e in entries]
    assert summary == [
        ("create_contact", "none", "ok"),
        ("delete_contact", "token", "confirmation_required"),
        ("delete_contact", "token", "ok"),
        ("delete_contact", "token", "replayed"),
        ("delete_contact", "token", "error: refused"),
        ("update_contact", "none", "error: NOT_FOUND"),
        ("delete_contact", "elicited", "declined"),
        ("delete_contact", "elicited", "ok"),
    ], summary
    for entry in entries:
        assert set(entry) == KEYS
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
        assert entry["workspace"] == "personal"
        assert entry["principal"].startswith("conn-")
    assert entries[0]["api_id"] == created["data"]["id"]
    assert entries[2]["api_id"] == victim["id"]
    assert entries[1]["api_id"] is None
    assert entries[2]["args"] == {"contact_id": victim["id"]}  # ids are kept verbatim
    assert entries[0]["args"]["name"].startswith("sha256:")
    assert entries[0]["args"]["phone"].startswith("sha256:")
    assert entries[0]["args"]["phone"] == redact_args({"phone": secret_phone})["phone"]  # matchable, not readable

    raw = log.read_text(encoding="utf-8")
    for needle in (
        secret_name,
        secret_phone,
        secret_phone.lstrip("+"),
        victim["phone"],
        victim["name"],
        token,
        "Zacharie",
    ):
        assert needle not in raw
    assert PERSONAL_KEY not in raw and TEAM_KEY not in raw
    assert len(mutations(ledger())) == 3
    assert log.stat().st_mode & 0o077 == 0  # owner-only


@pytest.mark.parametrize(
    ("overrides", "path", "outcome"),
    [({"confirm": "off"}, "off", "ok"), ({"dry_run": True}, "dry-run", "dry_run")],
)
async def test_off_and_dry_run_are_recorded(
    tmp_path: Path, sandbox_app: Any, overrides: dict[str, Any], path: str, outcome: str
) -> None:
    log = tmp_path / "audit.jsonl"
    server = build_server(make_settings(audit_log=log, **overrides), sandbox_app=sandbox_app)
    contact = personal_contacts()[1]
    async with Client(server) as client:
        await call_ok(client, "delete_contact", {"contact_id": contact["id"]})
    (entry,) = read(log)
    assert (entry["tool"], entry["confirmation"], entry["outcome"]) == ("delete_contact", path, outcome)


async def test_policy_refusal_is_recorded(tmp_path: Path, sandbox_app: Any) -> None:
    from msgflash_mcp.sandbox.seed import PERSONAL_CONNECTED_INSTANCE_ID

    log = tmp_path / "audit.jsonl"
    server = build_server(make_settings(audit_log=log, recipient_allowlist=["+33612345001"]), sandbox_app=sandbox_app)
    text_body = "Code secret 4242, ne le partagez pas"
    args = {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "to": "+33698765432", "type": "text", "text": text_body}
    async with Client(server) as client:
        assert "refused by policy" in await call_error(client, "send_message", args)
    (entry,) = read(log)
    assert (entry["tool"], entry["confirmation"], entry["outcome"]) == ("send_message", "none", "error: refused")
    assert entry["args"]["instance_id"] == PERSONAL_CONNECTED_INSTANCE_ID
    raw = log.read_text(encoding="utf-8")
    assert text_body not in raw and "4242" not in raw and "98765432" not in raw


async def test_no_audit_log_configured_writes_nothing(
    tmp_path: Path, sandbox_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    server = build_server(make_settings(confirm="off"), sandbox_app=sandbox_app)
    async with Client(server) as client:
        await call_ok(client, "delete_contact", {"contact_id": personal_contacts()[1]["id"]})
    assert not await anyio.Path(tmp_path).exists() or [p async for p in anyio.Path(tmp_path).iterdir()] == []


async def test_unwritable_audit_log_does_not_hide_the_outcome(
    tmp_path: Path, sandbox_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    server = build_server(make_settings(audit_log=blocker / "audit.jsonl", confirm="off"), sandbox_app=sandbox_app)
    async with Client(server) as client:
        out = await call_ok(client, "delete_contact", {"contact_id": personal_contacts()[1]["id"]})
    assert out["status"] == "ok"
    assert any("audit log" in r.getMessage() for r in caplog.records)


def test_redaction_keeps_ids_and_hashes_everything_else() -> None:
    args = {
        "contact_id": "abc",
        "text": "Bonjour Awa",
        "phone": "+33612345678",
        "url": "https://x.test/?k=s",
        "count": 3,
    }
    red = redact_args(args)
    assert red["contact_id"] == "abc"
    for name in ("text", "phone", "url", "count"):
        assert red[name].startswith("sha256:") and args[name] != red[name]
    assert "Bonjour" not in json.dumps(red)
