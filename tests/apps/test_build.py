"""The committed MCP Apps build: current with its sources, self-contained, within budget, read lazily.

No Node needed: the sources hash that apps/build.mjs records in every built file is recomputed here.
When this fails, rebuild: `cd apps && npm ci && npm run build`, and commit the outputs.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from msgflash_mcp.server.apps import views

REPO = Path(__file__).resolve().parents[2]
APPS = REPO / "apps"
STATIC = REPO / "server" / "apps" / "static"
HARNESS = Path(__file__).with_name("harness.html")
BUDGET = 150 * 1024

# Same list as sources() in apps/build.mjs: everything that decides the build.
SOURCE_FILES = ["build.mjs", "package.json", "package-lock.json", "tsconfig.json", ".npmrc"]


def sources_hash() -> str:
    files = SOURCE_FILES + [p.relative_to(APPS).as_posix() for p in (APPS / "src").rglob("*") if p.is_file()]
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0")
        digest.update((APPS / name).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


BUILT = [STATIC / view.file for view in views.VIEWS]


def recorded_hash(html: str) -> str | None:
    found = re.search(r'<meta name="msgflash-build" content="sources-sha256:([0-9a-f]{64})">', html)
    return found.group(1) if found else None


@pytest.mark.parametrize("path", [*BUILT, HARNESS], ids=lambda p: p.name)
def test_committed_build_matches_its_sources(path: Path) -> None:
    assert recorded_hash(path.read_text(encoding="utf-8")) == sources_hash(), (
        f"{path.relative_to(REPO)} is stale: rebuild with `cd apps && npm ci && npm run build` and commit it"
    )


@pytest.mark.parametrize("path", BUILT, ids=lambda p: p.name)
def test_each_view_is_one_self_contained_file_within_budget(path: Path) -> None:
    html = path.read_text(encoding="utf-8")
    assert len(html.encode()) <= BUDGET
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert csp is not None
    directives = dict(d.strip().split(" ", 1) for d in csp.group(1).split(";"))
    assert directives["default-src"] == "'none'"  # so connect-src, frame-src, img-src (bar data:) ... are closed
    assert directives["script-src"].startswith("'sha256-") and "unsafe" not in csp.group(1)
    # Nothing loaded from elsewhere: no external script, style sheet, image or frame.
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html)
    assert html.count("<script>") == 1 and html.count("<style>") == 1


def test_view_html_is_read_on_resources_read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cold start stays that of a server without views: nothing reads the HTML until a client asks for it."""
    import anyio
    from mcp import Client
    from mcp.client.extension import advertise
    from msgflash_mcp.server.app import build_server
    from msgflash_mcp.server.core.settings import Settings

    reads: list[str] = []
    real = views.read_view
    monkeypatch.setattr(views, "read_view", lambda file: reads.append(file) or real(file))

    async def scenario() -> None:
        server = build_server(Settings(sandbox=True, sandbox_db=":memory:", rate_limit=0))
        apps = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})
        async with Client(server, extensions=[apps]) as client:
            listed = await client.list_resources()
            assert {str(r.uri) for r in listed.resources} >= {v.uri for v in views.VIEWS}
            assert reads == []
            read = await client.read_resource(views.REVIEW)
            content = read.contents[0]
            assert content.mime_type == "text/html;profile=mcp-app"
            assert recorded_hash(getattr(content, "text", "")) == sources_hash()
            assert (content.meta or {})["ui"]["csp"] == {
                "connectDomains": [], "resourceDomains": [], "frameDomains": [], "baseUriDomains": []
            }
            assert reads == ["review.html"]

    anyio.run(scenario)
