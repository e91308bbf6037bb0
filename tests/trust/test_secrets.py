"""Secrets: canary keys never surface anywhere a model, a log reader or a traceback could see them."""

from __future__ import annotations

import io
import json
import logging
import uuid
from typing import Any

import anyio
import pytest
from mcp import Client
from msgflash_mcp.sandbox.keys import TEAM_NAME
from msgflash_mcp.server.app import build_server
from msgflash_mcp.server.core.settings import ConfigError, Settings, load_settings
from msgflash_mcp.server.redact import MASK, Scrubber, install_log_scrubbing
from pydantic import ValidationError

from .conftest import (
    CANARIES,
    CANARY_HTTP_TOKEN,
    CANARY_PERSONAL,
    CANARY_TEAM,
    EchoingUpstream,
    canary_teams,
    leaked,
    result_texts,
)
from .requirements import requirement

pytestmark = pytest.mark.anyio

LOGGERS = ("", "httpx2", "httpcore", "mcp", "msgflash_mcp", "msgflash_mcp.api", "msgflash_mcp.sandbox", "uvicorn")


def canary_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "api_key": CANARY_PERSONAL,
        "teams": canary_teams(),
        "sandbox": False,
        "base_url": "http://api.invalid",
        "rate_limit": 0,
        "http_token": CANARY_HTTP_TOKEN,
        "log_level": "DEBUG",
        "call_deadline": 10,
    }
    values.update(overrides)
    return Settings(**values)


async def exercise(client: Client, faults: Any) -> list[Any]:
    """A run touching success, API errors (echoing), injected 5xx, previews and validation errors, both workspaces."""
    missing = str(uuid.uuid4())
    results = []
    for workspace in ("personal", TEAM_NAME):
        for name, args in [
            ("list_instances", {}),
            ("list_contacts", {"limit": 5}),
            ("list_groups", {}),
            ("list_templates", {}),
            ("list_webhooks", {}),
            ("get_contact", {"contact_id": missing}),  # 404 echoing the key
            ("get_campaign", {"campaign_id": missing}),
            ("create_contact", {"name": "Canary Test", "phone": "+33612349999" if workspace == "personal" else "+33612349998"}),
            ("delete_contact", {"contact_id": missing}),  # preview fails with 404
            ("get_contact", {"contact_id": "not-a-uuid"}),  # validation error
        ]:
            results.append(await client.call_tool(name, {**args, "workspace": workspace}))
    for name in ("get_usage", "get_account", "get_subscription", "get_billing_usage", "list_payments"):
        results.append(await client.call_tool(name, {}))
    # Injected upstream failures: a 500 and a 401 on reads, both echoed back by the upstream.
    faults.add_status("/api/v1/contacts", 500, "INTERNAL_ERROR")
    results.append(await client.call_tool("list_contacts", {}))
    faults.add_status("/api/v1/instances", 401, "INVALID_API_KEY", count=5)
    results.append(await client.call_tool("list_instances", {}))
    return results


class FaultHelper:
    def __init__(self, sandbox_app: Any) -> None:
        self._faults = sandbox_app.state.sandbox.faults

    def add_status(self, path: str, status: int, code: str, count: int = 1) -> None:
        from msgflash_mcp.sandbox.faults import FaultRule

        self._faults.add([FaultRule(action="status", method="GET", path=path, status=status, code=code, count=count,
                                    message=f"upstream says: key {CANARY_PERSONAL} rejected")])


@requirement("secret.canary-nowhere", "secret.not-in-url")
async def test_canary_keys_never_appear_in_results_errors_logs_or_reprs(
    sandbox_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox_app.state.expect_bad_credentials = False
    settings = canary_settings()
    install_log_scrubbing(Scrubber(settings.secrets()))  # what serve_mcp does at start-up
    upstream = EchoingUpstream(sandbox_app)
    server = build_server(settings, http_transport=upstream)
    previous = {name: logging.getLogger(name).level for name in LOGGERS}
    stream = io.StringIO()
    late_handler = logging.StreamHandler(stream)  # a handler attached after start-up, on a non-root logger
    logging.getLogger("httpx2").addHandler(late_handler)
    try:
        for name in LOGGERS:
            logging.getLogger(name).setLevel(logging.DEBUG)
        caplog.set_level(logging.DEBUG)
        with anyio.fail_after(60):
            async with Client(server) as client:
                results = await exercise(client, FaultHelper(sandbox_app))
    finally:
        logging.getLogger("httpx2").removeHandler(late_handler)
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)

    # The run was not vacuous: the canaries went out on the wire and came back in bodies.
    sent = {r.headers.get("x-api-key") for r in upstream.seen}
    assert {CANARY_PERSONAL, CANARY_TEAM} <= sent
    assert upstream.echoed >= 10
    assert any(r.is_error for r in results) and any(not r.is_error for r in results)

    texts = [t for r in results for t in result_texts(r)]
    assert not leaked(texts), leaked(texts)[:3]
    assert any(MASK in t for t in texts), "echoed keys should show up masked"

    records = caplog.records
    assert records, "expected DEBUG records to be captured"
    log_texts = [r.getMessage() for r in records] + [caplog.text, stream.getvalue()]
    log_texts += [str(r.exc_text or "") + str(r.stack_info or "") for r in records]
    assert not leaked(log_texts), leaked(log_texts)[:3]

    runtime = server.runtime
    reprs = [repr(settings), str(settings), repr(runtime), repr(runtime.workspaces), repr(runtime.scrubber),
             repr(server), str(settings.model_dump()), settings.model_dump_json()]
    reprs += [repr(ws) for ws in getattr(runtime.workspaces, "all", lambda: [])()] if callable(
        getattr(runtime.workspaces, "all", None)) else []
    assert not leaked(reprs), leaked(reprs)[:3]

    # secret.not-in-url: no URL the upstream saw carries any key.
    urls = [str(r.url) for r in upstream.seen]
    assert not leaked(urls, CANARIES)
    assert all("msgf_" not in url for url in urls)


@requirement("secret.not-in-url")
async def test_no_sandbox_url_carries_a_key(client: Client, ledger: Any) -> None:
    from msgflash_mcp.sandbox.keys import PERSONAL_KEY, TEAM_KEY

    for name in ("list_instances", "list_contacts", "get_usage", "list_templates"):
        await client.call_tool(name, {})
    await client.call_tool("list_contacts", {"workspace": TEAM_NAME})
    entries = ledger()
    assert entries
    for entry in entries:
        where = entry["path"] + "?" + entry["query"]
        assert PERSONAL_KEY not in where and TEAM_KEY not in where and "msgf_" not in where


@requirement("secret.repr")
def test_settings_repr_and_validation_errors_hide_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = canary_settings()
    shown = [repr(settings), str(settings), repr(settings.teams), str(settings.model_dump()), settings.model_dump_json()]
    assert not leaked(shown)
    # A malformed key next to valid canaries: the error names the rule, never a value.
    bad = CANARY_PERSONAL[:-1] + "Z"
    with pytest.raises(ValidationError) as info:
        # raw values on purpose: pydantic validates them into SecretStr / TeamConfig, and that is what is tested
        Settings(api_key=bad, teams=canary_teams())  # pyright: ignore[reportArgumentType]
    assert not leaked([str(info.value), repr(info.value)], (*CANARIES, bad, bad[10:]))
    monkeypatch.setenv("MSGFLASH_API_KEY", bad)
    monkeypatch.setenv("MSGFLASH_TEAMS", json.dumps([{"name": "t", "team_id": "not-a-uuid", "key": CANARY_TEAM}]))
    with pytest.raises(ConfigError) as config_error:
        load_settings()
    assert not leaked([str(config_error.value)], (*CANARIES, bad, bad[10:]))


@requirement("secret.log-scrubbing")
def test_log_scrubbing_covers_loggers_and_handlers_created_later() -> None:
    secret = "s3cret-value-" + uuid.uuid4().hex
    install_log_scrubbing(Scrubber([secret]))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("trust.later." + uuid.uuid4().hex)
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.debug("args %s and %r", secret, {"x-api-key": secret})
    logger.info("inline " + secret)
    try:
        raise RuntimeError(f"boom {secret}")
    except RuntimeError:
        logger.exception("failed with %s", "context")
    logger.warning("key-shaped strings too: %s", "msgf_team_" + "ab" * 32)
    out = stream.getvalue()
    assert secret not in out and "msgf_team_abab" not in out
    assert out.count(MASK) >= 5 and "RuntimeError" in out and "context" in out


@requirement("secret.log-scrubbing")
def test_each_http_token_is_a_secret_on_its_own() -> None:
    settings = canary_settings(http_token="first-token-a1b2c3d4, second-token-e5f6a7b8")
    assert {"first-token-a1b2c3d4", "second-token-e5f6a7b8"} <= set(settings.secrets())
    scrubber = Scrubber(settings.secrets())
    assert scrubber.text("Bearer second-token-e5f6a7b8 rejected") == f"Bearer {MASK} rejected"
    from msgflash_mcp.server.doctor import raw_secrets  # doctor scrubs from the raw environment

    assert {"first-token-a1b2c3d4", "second-token-e5f6a7b8"} <= set(
        raw_secrets({"MSGFLASH_HTTP_TOKEN": "first-token-a1b2c3d4, second-token-e5f6a7b8"})
    )


@requirement("secret.log-scrubbing")
def test_logs_mask_confirmation_tokens_and_returned_webhook_secrets_that_results_keep() -> None:
    """A model must see its confirmation token and a new webhook's secret once; a log never does."""
    from msgflash_mcp.server.redact import remember_returned_secrets

    returned = "opaque-signing-secret-" + uuid.uuid4().hex  # not whsec_-shaped: learned, not guessed
    remember_returned_secrets({"id": "w1", "secret": returned})
    token = "cfm_" + "Zk9_x-" * 6
    install_log_scrubbing(Scrubber())
    stream = io.StringIO()
    logger = logging.getLogger("trust.shapes." + uuid.uuid4().hex)
    logger.propagate = False
    logger.addHandler(logging.StreamHandler(stream))
    logger.setLevel(logging.DEBUG)
    logger.debug("chunk %s", json.dumps({"confirm_token": token, "secret": returned, "other": "whsec_" + "ab" * 24}))
    out = stream.getvalue()
    assert token not in out and returned not in out and "whsec_abab" not in out
    assert out.count(MASK) == 3
    # The output scrubber (tool results) leaves them alone: the caller needs them.
    assert Scrubber().text(f"{token} {returned}") == f"{token} {returned}"


def test_log_levels_open_the_product_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """MSGFLASH_LOG_LEVEL=DEBUG: msgflash_mcp.* at DEBUG, everything else (sse_starlette, mcp, httpx2) at WARNING."""
    from msgflash_mcp.server.logs import configure_logging

    root, product = logging.getLogger(), logging.getLogger("msgflash_mcp")
    saved = (root.level, product.level, list(root.handlers))
    try:
        configure_logging(canary_settings(log_level="DEBUG"))
        assert logging.getLogger("msgflash_mcp.api").isEnabledFor(logging.DEBUG)
        for name in ("sse_starlette.sse", "mcp.server.streamable_http", "httpx2", "uvicorn.error"):
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
        configure_logging(canary_settings(log_level="ERROR", log_level_all="DEBUG"))
        assert logging.getLogger("sse_starlette.sse").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("msgflash_mcp.api").isEnabledFor(logging.WARNING)
        assert len(root.handlers) == len(saved[2]) + 1  # configured twice, one handler
    finally:
        root.setLevel(saved[0])
        product.setLevel(saved[1])
        root.handlers[:] = saved[2]
    monkeypatch.setenv("MSGFLASH_LOG_LEVEL_ALL", "chatty")
    with pytest.raises(ConfigError, match="MSGFLASH_LOG_LEVEL_ALL must be"):
        load_settings()


@requirement("secret.log-scrubbing")
def test_scrubbing_keeps_a_third_party_formatters_args() -> None:
    """uvicorn's access formatter unpacks `record.args` (address, method, path, version, status): scrubbing
    masks a secret inside one of them and keeps the tuple, so the line is formatted, not a crash."""
    from uvicorn.logging import AccessFormatter

    secret = "s3cret-in-path-" + uuid.uuid4().hex
    install_log_scrubbing(Scrubber([secret]))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False))
    errors: list[BaseException] = []
    handler.handleError = lambda record: errors.append(__import__("sys").exc_info()[1])
    logger = logging.getLogger("trust.access." + uuid.uuid4().hex)
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.debug('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/mcp?t={secret}", "1.1", 200)
    assert errors == []
    assert stream.getvalue() == f'127.0.0.1:5000 - "GET /mcp?t={MASK} HTTP/1.1" 200 OK\n'


@requirement("secret.log-scrubbing")
def test_scrubbing_masks_a_secret_that_only_formatting_assembles() -> None:
    """A secret split between the template and an argument is only whole once formatted: that record is
    flattened (formatted, masked, no args) rather than left to leak."""
    secret = "s3cret-split-" + uuid.uuid4().hex
    install_log_scrubbing(Scrubber([secret]))
    stream = io.StringIO()
    logger = logging.getLogger("trust.split." + uuid.uuid4().hex)
    logger.propagate = False
    logger.addHandler(logging.StreamHandler(stream))
    logger.setLevel(logging.DEBUG)
    logger.debug(secret[:10] + "%s", secret[10:])
    assert stream.getvalue() == MASK + "\n"
