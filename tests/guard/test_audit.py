"""The audit log: one JSONL line per mutating call, whatever its outcome; no bodies, phones or keys."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest
from mcp import Client
from msgflash_mcp.sandbox.keys import PERSONAL_KEY, TEAM_KEY
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.audit import dumps, kept_fields, redact_args
from msgflash_mcp.server.core.results import Preview
from msgflash_mcp.server.install_key import audit_key
from pydantic import AwareDatetime, BaseModel

from tests.conftest import call_error, call_ok, make_settings, mutations
from tests.examples import SPECS, example_args

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


def test_redaction_keeps_values_of_kept_types_and_hashes_everything_else() -> None:
    """Which values are kept is marked on the argument types (`KEPT` on ids and page sizes; closed sets and
    dates by nature), so a new argument of such a type is kept with no edit here or in server/audit.py."""
    from msgflash_mcp.tools._types import ContactId, Limit, Phone, Url

    class Args(BaseModel):
        contact_id: ContactId
        contact_ids: list[ContactId]
        limit: Limit | None = None
        type: Literal["text", "image"]
        when: AwareDatetime
        text: str
        phone: Phone
        url: Url
        count: int

    keep = kept_fields(Args)
    assert keep == {"contact_id", "contact_ids", "limit", "type", "when"}
    args = {
        "contact_id": "abc",
        "contact_ids": ["abc", "def"],
        "type": "text",
        "text": "Bonjour Awa",
        "phone": "+33612345678",
        "url": "https://x.test/?k=s",
        "count": 3,
    }
    red = redact_args(args, KEY, keep)
    assert (red["contact_id"], red["contact_ids"], red["type"]) == ("abc", ["abc", "def"], "text")
    for name in ("text", "phone", "url", "count"):
        assert red[name].startswith("hmac:") and args[name] != red[name]
    assert "Bonjour" not in json.dumps(red)


def test_no_tool_keeps_free_text_phones_or_links() -> None:
    """Whatever the types mark, the arguments that carry people's words, numbers and links stay hashed."""
    personal = {"to", "phone", "numbers", "text", "body", "caption", "content", "name", "url", "title",
                "description", "footer", "variables", "tag", "tags", "meta", "buttons", "media_url", "search"}
    kept = {(spec.name, name) for spec in SPECS.values() for name in spec.audit_kept if name in personal}
    assert not kept, kept


# ------------------------------------------------------------ every mutating tool, one valid line

ALWAYS_CONFIRMED = {"remove_opt_out"}


def _mutating_tools() -> list[tuple[str, bool]]:
    """(name, guarded) of every tool with an effect, from the registry; each runs with its declared example."""
    return [(spec.name, spec.effect.guarded) for spec in SPECS.values() if spec.effect.mutating]


@pytest.mark.parametrize(("tool", "guarded"), _mutating_tools())
async def test_each_mutating_tool_succeeds_with_one_valid_audit_line(
    tool: str, guarded: bool, tmp_path: Path, still_sandbox_app: Any
) -> None:
    """Datetimes (schedule_message, create_campaign) once made the audit step fail a done call.

    On a still sandbox clock, the lookup and the bulk job the setup starts are still running when the
    tool under test cancels them, however busy the machine is.
    """
    sandbox_app = still_sandbox_app
    args = await example_args(tool, sandbox_app)  # what it needs first is made through a server without a log
    log = tmp_path / "audit.jsonl"
    server = build_server(make_settings(audit_log=log, confirm="off"), sandbox_app=sandbox_app)
    async with Client(server) as client:
        out = await call_ok(client, tool, args)
    assert out["status"] == "ok", out
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1, lines
    entry = json.loads(lines[0])
    assert set(entry) == KEYS
    # MSGFLASH_CONFIRM=off skips the confirmation of guarded tools, and of the unguarded ones whose plan always
    # asks for one (remove_opt_out: undoing someone's own request); other unguarded ones never have one.
    asks = guarded or tool in ALWAYS_CONFIRMED
    assert (entry["tool"], entry["confirmation"], entry["outcome"]) == (tool, "off" if asks else "none", "ok")
    # Every argument sent is recorded: values of kept types as they are, all others as a keyed hash.
    assert set(entry["args"]) == set(args)
    for name, value in entry["args"].items():
        assert (name in SPECS[tool].audit_kept) != str(value).startswith("hmac:"), (name, value)


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
    args = await example_args("schedule_message", sandbox_app)
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
