"""The schema cache (server/call/tool_cache.py): a second start lists the tools from it, identically; a
changed fingerprint or a damaged file is rebuilt, never served; a listed-from-cache tool validates its
first call exactly like a built one. Each "start" here is a fresh process as far as the cache goes: no
built tools, no cache read yet. The cache lives in tmp_path, never in the user cache dir."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from msgflash_mcp.sandbox.seed import PERSONAL_CONNECTED_INSTANCE_ID
from msgflash_mcp.server.app import build_server, selected_specs
from msgflash_mcp.server.call import pipeline, tool_cache
from msgflash_mcp.server.call.tool_cache import FILE_NAME, DeferredTool, SchemaCache

from tests.conftest import call_error, call_ok, make_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(tool_cache.ENV, str(tmp_path))
    return tmp_path


def start(monkeypatch: pytest.MonkeyPatch, sandbox_app: Any) -> Any:
    """build_server as a new process runs it: nothing built yet, the cache file not read yet."""
    monkeypatch.setattr(pipeline, "_built", {})
    monkeypatch.setattr(tool_cache, "_process_cache", None)
    return build_server(make_settings(), sandbox_app=sandbox_app)


def deferred(server: Any) -> int:
    return sum(isinstance(tool, DeferredTool) for tool in server._tool_manager.list_tools())


async def listed(server: Any) -> list[dict[str, Any]]:
    async with Client(server) as client:
        return [tool.model_dump(mode="json") for tool in (await client.list_tools()).tools]


async def test_a_second_start_lists_from_the_cache_exactly_what_a_cold_build_lists(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, sandbox_app: Any
) -> None:
    cold = start(monkeypatch, sandbox_app)
    assert deferred(cold) == 0
    stored = json.loads((cache_dir / FILE_NAME).read_text())
    assert stored["fingerprint"] == tool_cache.fingerprint()
    assert set(stored["tools"]) == {spec.name for spec in selected_specs(make_settings())}

    warm = start(monkeypatch, sandbox_app)
    assert deferred(warm) == len(stored["tools"]) > 50
    assert await listed(warm) == await listed(cold)


async def test_a_changed_fingerprint_is_rebuilt_not_served(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, sandbox_app: Any
) -> None:
    start(monkeypatch, sandbox_app)
    monkeypatch.setattr(tool_cache, "fingerprint", lambda: "another source tree")
    assert deferred(start(monkeypatch, sandbox_app)) == 0
    assert json.loads((cache_dir / FILE_NAME).read_text())["fingerprint"] == "another source tree"
    assert deferred(start(monkeypatch, sandbox_app)) > 50  # the rewritten cache serves the next start


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # cut short
        lambda text: "\x00\xff not json",
        lambda text: json.dumps({**json.loads(text), "tools": {"send_message": {"parameters": "{}"}}}),
        lambda text: json.dumps({"tools": json.loads(text)["tools"]}),  # no fingerprint
        lambda text: "[]",
    ],
)
async def test_a_damaged_cache_file_is_rebuilt_not_served(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, sandbox_app: Any, damage: Any
) -> None:
    cold = start(monkeypatch, sandbox_app)
    file = cache_dir / FILE_NAME
    file.write_text(damage(file.read_text()), errors="surrogateescape")
    rebuilt = start(monkeypatch, sandbox_app)
    assert deferred(rebuilt) == 0
    assert await listed(rebuilt) == await listed(cold)
    assert deferred(start(monkeypatch, sandbox_app)) > 50  # rewritten whole


async def test_an_unwritable_cache_dir_only_costs_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox_app: Any
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(tool_cache.ENV, str(blocker))  # its "directory" is a file: nothing can be written
    assert deferred(start(monkeypatch, sandbox_app)) == 0
    assert deferred(start(monkeypatch, sandbox_app)) == 0


def test_only_the_registry_specs_are_cached(tmp_path: Path) -> None:
    spec = selected_specs(make_settings())[0]
    cache = SchemaCache(tmp_path / FILE_NAME, "fp")
    assert cache.covers(spec)
    assert not cache.covers(dataclasses.replace(spec))  # a spec made elsewhere (tests, embedders) is always built
    assert not SchemaCache(None, "fp").covers(spec)


async def test_the_first_call_of_a_cached_tool_validates_as_before(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, sandbox_app: Any
) -> None:
    start(monkeypatch, sandbox_app)
    warm = start(monkeypatch, sandbox_app)
    assert deferred(warm) > 50
    message = {"instance_id": PERSONAL_CONNECTED_INSTANCE_ID, "to": "+33612345000", "type": "text", "text": "Bonjour"}
    async with Client(warm) as client:
        # a planned (mutating) tool: first a bad call, then a good one
        error = await call_error(client, "send_message", {"to": "123", "text": "hi"})
        assert error == ("Invalid arguments for send_message, nothing was done: `instance_id` is required; "
                         "`to` needs at least 4 character(s) (got '123'). Correct them and call again.")
        assert (await call_ok(client, "send_message", message))["status"] == "confirmation_required"
        # a read tool: first a good call, then a bad one
        assert (await call_ok(client, "list_payments", {}))["status"] == "ok"
        error = await call_error(client, "list_payments", {"limit": 0})
        assert "`limit` must be greater than or equal to 1 (got 0)" in error
        error = await call_error(client, "get_template", {"template_id": "t"})
        assert "`template_id` must be a UUID (take ids from the matching list_* tool) (got 't')" in error
