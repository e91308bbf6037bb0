"""The audit log: one JSONL line per mutating call, whatever its outcome; no bodies, phones or keys."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from msgflash_mcp.sandbox.keys import PERSONAL_KEY, TEAM_KEY
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.audit import dumps, redact_args
from msgflash_mcp.server.install_key import audit_key
from msgflash_mcp.server.results import Preview

from tests.conftest import call_error, call_ok, make_settings, mutations

from .conftest import Elicitor, personal_contacts

pytestmark = pytest.mark.anyio

KEY = b"k" * 32  # an audit key, as server/install_key.py derives one
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
    assert entries[0]["args"]["name"].startswith("hmac:")
    assert entries[0]["args"]["phone"].startswith("hmac:")
    key = audit_key(server.runtime.settings)
    assert entries[0]["args"]["phone"] == redact_args({"phone": secret_phone}, key)["phone"]  # matchable, not readable

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
    red = redact_args(args, KEY)
    assert red["contact_id"] == "abc"
    for name in ("text", "phone", "url", "count"):
        assert red[name].startswith("hmac:") and args[name] != red[name]
    assert "Bonjour" not in json.dumps(red)


# ------------------------------------------------------------ every mutating tool, one valid line

def _future(sandbox_app: Any) -> str:
    return (sandbox_app.state.sandbox.clock.now() + timedelta(days=2)).isoformat()


async def _setup(client: Client, tool: str, sandbox_app: Any) -> dict[str, str]:
    """What a tool needs to exist first, made through a server that writes no audit log."""
    from msgflash_mcp.sandbox.seed import PERSONAL_CONNECTED_INSTANCE_ID, SCHEDULED_CAMPAIGN_ID

    instance = PERSONAL_CONNECTED_INSTANCE_ID
    if tool == "resume_campaign":
        await call_ok(client, "pause_campaign", {"campaign_id": SCHEDULED_CAMPAIGN_ID})
    if tool == "delete_template":
        made = await call_ok(client, "create_template", {"name": "Audit", "type": "text", "body": "Hello"})
        return {"template_id": made["data"]["id"]}
    if tool == "cancel_bulk_job":
        made = await call_ok(client, "bulk_delete_contacts", {"contact_ids": [str(uuid.uuid4()) for _ in range(500)]})
        return {"job_id": made["data"]["jobId"]}
    if tool == "cancel_number_lookup":
        numbers = [f"+336990{i:05d}" for i in range(150)]
        made = await call_ok(client, "start_number_lookup", {"instance_id": instance, "numbers": numbers})
        return {"lookup_id": made["data"]["lookupId"]}
    if tool == "import_lookup_contacts":
        made = await call_ok(client, "start_number_lookup", {"instance_id": instance, "numbers": ["+33699000002"]})
        return {"lookup_id": made["data"]["lookupId"]}
    return {}


def _arguments(tool: str, made: dict[str, str], sandbox_app: Any) -> dict[str, Any]:
    from msgflash_mcp.sandbox.seed import (
        AWA_CONTACT_ID,
        DEMO_WEBHOOK_ID,
        LEADS_GROUP_ID,
        PERSONAL_CONNECTED_INSTANCE_ID,
        SCHEDULED_CAMPAIGN_ID,
        VIP_GROUP_ID,
        WELCOME_TEMPLATE_ID,
    )

    instance = PERSONAL_CONNECTED_INSTANCE_ID
    text = {"type": "text", "text": "Bonjour"}
    victims = [c["id"] for c in personal_contacts()[1:3]]
    table: dict[str, dict[str, Any]] = {
        "send_message": {"instance_id": instance, "to": "+33612345000", **text},
        "schedule_message": {"instance_id": instance, "to": "+33612345000", "scheduled_at": _future(sandbox_app),
                             **text},
        "create_campaign": {"instance_id": instance, "name": "Audit", "schedule": _future(sandbox_app),
                            "recipients_type": "all", "type": "text", "body": "Bonjour"},
        "pause_campaign": {"campaign_id": SCHEDULED_CAMPAIGN_ID},
        "resume_campaign": {"campaign_id": SCHEDULED_CAMPAIGN_ID},
        "create_template": {"name": "Audit", "type": "text", "body": "Hello {{contact.name}}"},
        "update_template": {"template_id": WELCOME_TEMPLATE_ID, "name": "Welcome 2"},
        "delete_template": {"template_id": made.get("template_id")},
        "create_contact": {"name": "Audit Person", "phone": "+33698761234", "tags": ["vip"]},
        "update_contact": {"contact_id": AWA_CONTACT_ID, "name": "Awa D."},
        "delete_contact": {"contact_id": victims[0]},
        "bulk_delete_contacts": {"contact_ids": victims},
        "cancel_bulk_job": {"job_id": made.get("job_id")},
        "create_group": {"name": "Audit group"},
        "update_group": {"group_id": VIP_GROUP_ID, "name": "VIP 2"},
        "delete_group": {"group_id": LEADS_GROUP_ID},
        "add_group_members": {"group_id": VIP_GROUP_ID, "contact_ids": [AWA_CONTACT_ID]},
        "remove_group_members": {"group_id": VIP_GROUP_ID, "contact_ids": [AWA_CONTACT_ID]},
        "create_webhook": {"url": "https://hooks.example.org/msgflash", "events": ["message.sent"]},
        "delete_webhook": {"webhook_id": DEMO_WEBHOOK_ID},
        "publish_status": {"instance_id": instance, "type": "text", "content": "Ouvert dimanche"},
        "start_number_lookup": {"instance_id": instance, "numbers": ["+33612345000", "+33699000002"]},
        "cancel_number_lookup": {"lookup_id": made.get("lookup_id")},
        "import_lookup_contacts": {"lookup_id": made.get("lookup_id"), "tag": "verified"},
    }
    return table[tool]


def _mutating_tools() -> list[tuple[str, bool]]:
    """(name, guarded) of every tool with an effect, from the registry: a new tool needs its case here."""
    from msgflash_mcp.tools import ALL_TOOLSETS

    specs = [spec for toolset in ALL_TOOLSETS for spec in toolset.specs]
    return [(spec.name, spec.effect.guarded) for spec in specs if spec.effect.mutating]


@pytest.mark.parametrize(("tool", "guarded"), _mutating_tools())
async def test_each_mutating_tool_succeeds_with_one_valid_audit_line(
    tool: str, guarded: bool, tmp_path: Path, still_sandbox_app: Any
) -> None:
    """Datetimes (schedule_message, create_campaign) once made the audit step fail a done call.

    On a still sandbox clock, the lookup and the bulk job the setup starts are still running when the
    tool under test cancels them, however busy the machine is.
    """
    sandbox_app = still_sandbox_app
    setup = build_server(make_settings(confirm="off"), sandbox_app=sandbox_app)
    async with Client(setup) as client:
        made = await _setup(client, tool, sandbox_app)
    log = tmp_path / "audit.jsonl"
    server = build_server(make_settings(audit_log=log, confirm="off"), sandbox_app=sandbox_app)
    async with Client(server) as client:
        out = await call_ok(client, tool, _arguments(tool, made, sandbox_app))
    assert out["status"] == "ok", out
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1, lines
    entry = json.loads(lines[0])
    assert set(entry) == KEYS
    # MSGFLASH_CONFIRM=off skips the confirmation of guarded tools; unguarded ones never have one.
    assert (entry["tool"], entry["confirmation"], entry["outcome"]) == (tool, "off" if guarded else "none", "ok")


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), RuntimeError("boom")])
async def test_a_failing_audit_write_keeps_the_done_result(
    failure: Exception, tmp_path: Path, sandbox_app: Any, ledger: Any, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from msgflash_mcp.server.audit import AuditLog

    def full_disk(self: AuditLog, line: str) -> None:
        raise failure

    monkeypatch.setattr(AuditLog, "_append", full_disk)
    server = build_server(make_settings(audit_log=tmp_path / "audit.jsonl", confirm="off"), sandbox_app=sandbox_app)
    args = _arguments("schedule_message", {}, sandbox_app)
    async with Client(server) as client:
        out = await call_ok(client, "schedule_message", args)
    assert out["status"] == "ok" and out["data"]["status"] == "scheduled"
    assert len(mutations(ledger())) == 1
    [record] = [r for r in caplog.records if r.name == "msgflash_mcp.audit"]
    assert record.levelname == "ERROR" and "schedule_message" in record.getMessage()
    assert ("No space left on device" if isinstance(failure, OSError) else "RuntimeError") in record.getMessage()
    assert "Bonjour" not in record.getMessage() and "+33612345000" not in record.getMessage()


class _Loop:
    def __str__(self) -> str:
        raise ValueError("no text either")


def test_any_value_serialises_to_strict_json() -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    odd = {
        "when": datetime(2026, 5, 1, 9, 30, tzinfo=UTC),
        "price": Decimal("9.90"),
        "tags": {"vip"},
        "raw": b"\xff\x00",
        "nan": float("nan"),
        "model": Preview(action="x"),
        "cyclic": cyclic,
        "unprintable": _Loop(),
        3: "int key",
    }
    line = dumps(odd)
    back = json.loads(line)  # strict JSON: no NaN, every key a string
    assert back["when"] == "2026-05-01T09:30:00Z" and back["price"] == "9.90" and back["tags"] == ["vip"]
    assert back["raw"] == "_wA=" and back["nan"] is None and back["model"]["action"] == "x"
    assert isinstance(back["cyclic"], str) and back["3"] == "int key"
    assert back["unprintable"] == "<unprintable _Loop>"
    assert redact_args({"text": odd}, KEY)["text"].startswith("hmac:")


async def test_a_phone_hash_cannot_be_reversed_without_the_install_key(tmp_path: Path, sandbox_app: Any) -> None:
    """An unkeyed SHA-256 of a phone number was reversed in a second by trying the numbers of one country:
    the audit hash is keyed by the install's secret, so the same search over the log alone finds nothing,
    and two installs hash one number differently."""
    import hashlib

    log = tmp_path / "audit.jsonl"
    phone = "+33698761234"
    server = build_server(make_settings(audit_log=log), sandbox_app=sandbox_app)
    async with Client(server) as client:
        await call_ok(client, "create_contact", {"name": "Zoé", "phone": phone})
    recorded = read(log)[0]["args"]["phone"]
    candidates = [f"+3369876{n:04d}" for n in range(10_000)]  # the search that reversed the unkeyed hash
    unkeyed = {"sha256:" + hashlib.sha256(dumps(c).encode()).hexdigest()[:16] for c in candidates}
    public_key = {redact_args({"phone": c}, b"msgflash-mcp/http-principal/v1")["phone"] for c in candidates}
    assert recorded not in unkeyed and recorded not in public_key
    assert recorded == redact_args({"phone": phone}, audit_key(server.runtime.settings))["phone"]
    other_install = make_settings(audit_log=log, principal_key="another-install-key-0123456789abcdef")
    assert redact_args({"phone": phone}, audit_key(other_install))["phone"] != recorded
