"""Write the parts of `bundle/manifest.json` that other files already say (`make manifest`).

    .venv/bin/python bundle/manifest_entries.py          # rewrite bundle/manifest.json
    .venv/bin/python bundle/manifest_entries.py --check  # exit 1 if it is stale (what tests/bundle checks)

The host shows the tools and prompts of an extension before anyone starts it, so the manifest lists them;
written by hand they would drift from the server. They come from the registry (every tool a default
configuration serves: read-only and toolsets only ever remove some) and from `server/prompts.py`; the
version and the Python it needs come from pyproject.toml. Everything else in the manifest is written by hand.
"""

from __future__ import annotations

import inspect
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from msgflash_mcp.server.prompts import PROMPTS
from msgflash_mcp.server.registry import select
from msgflash_mcp.tools import ALL_TOOLSETS

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.json"
FIX = "make manifest"


def one_line(text: str) -> str:
    return " ".join(text.split())


def tools() -> list[dict[str, str]]:
    specs = select(ALL_TOOLSETS, enabled=None, read_only=False)
    return [{"name": spec.name, "description": one_line(spec.description)} for spec in specs]


def prompts() -> list[dict[str, Any]]:
    """Each prompt with its text, the arguments left as the `${arguments.x}` placeholders MCPB defines."""
    entries: list[dict[str, Any]] = []
    for fn in PROMPTS:
        arguments = list(inspect.signature(fn).parameters)
        text = fn(**{name: f"${{arguments.{name}}}" for name in arguments})
        entry: dict[str, Any] = {"name": fn.__name__, "description": one_line(inspect.getdoc(fn) or "")}
        if arguments:
            entry["arguments"] = arguments
        entries.append(entry | {"text": text})
    return entries


def generated(manifest: dict[str, Any]) -> dict[str, Any]:
    """`manifest` with the generated fields replaced, every other field and the key order kept."""
    project = tomllib.loads((HERE.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    fresh = dict(manifest)
    fresh["version"] = project["version"]
    runtimes = fresh.setdefault("compatibility", {}).setdefault("runtimes", {})
    runtimes["python"] = project["requires-python"]
    fresh["tools"] = tools()
    fresh["tools_generated"] = False  # the list is complete: configuration only ever hides some of them
    fresh["prompts"] = prompts()
    fresh["prompts_generated"] = False
    return fresh


def render(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    current = MANIFEST.read_text(encoding="utf-8")
    fresh = render(generated(json.loads(current)))
    if current == fresh:
        return 0
    if "--check" in argv:
        sys.stderr.write(f"{MANIFEST} is stale (tools, prompts or version changed): run `{FIX}`\n")
        return 1
    MANIFEST.write_text(fresh, encoding="utf-8")
    sys.stderr.write(f"{MANIFEST} rewritten\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
