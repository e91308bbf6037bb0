"""Tool schemas kept between runs, like .pyc files, so a fresh process does not regenerate them.

Why: a cold start (spawn -> tools/list) spent ~300 ms building ~60 tools, most of it in the SDK's
`Tool.from_function` (a pydantic argument model per tool, then its JSON schema) and our output
schemas (bench/latency.py, target <= 1.15x a bare 2-tool server). A tool's schemas are a pure
function of the package source and the library versions, so the first start writes them to one JSON
file in the user cache dir and later starts read them back:

- `SchemaCache` holds the compact input schema and the output schema of every registry tool, under a
  fingerprint of what decides them (our version, mcp/pydantic/Python versions, the bytes of every .py
  under server/ and tools/). A different fingerprint, an unreadable or malformed file: the cache is
  empty and is rewritten (atomically) after the tools are built. It never serves a stale schema.
- `deferred_tool` makes an SDK `Tool` from those schemas without the argument model; the model (and
  what else `Tool.from_function` derives: context/resolved parameters, resolver plans) is built on
  the tool's first call, so validation is exactly the SDK's, just later.

Only the registry's own specs are cached (by identity: tests and embedders that make specs of their
own always build them). `MSGFLASH_SCHEMA_CACHE`: a directory to keep the file in, or `off`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp_types import ToolAnnotations
from pydantic import PrivateAttr

from ..registry import ToolSpec
from .validation import ReadableArgumentsTool

log = logging.getLogger("msgflash_mcp")

ENV = "MSGFLASH_SCHEMA_CACHE"
FILE_NAME = "tool-schemas.json"
Entry = dict[str, Any]  # {"parameters": <input schema>, "output_schema": <schema or None>}


def cache_file() -> Path | None:
    """Where this process keeps the cache: $MSGFLASH_SCHEMA_CACHE, else the user cache dir; None when off."""
    configured = os.environ.get(ENV, "").strip()
    if configured.lower() in {"off", "0", "false", "no"}:
        return None
    if configured:
        return Path(configured) / FILE_NAME
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("msgflash-mcp", appauthor=False)) / FILE_NAME


def fingerprint() -> str:
    """Everything the schemas depend on: versions and the source of the modules that declare tools."""
    from importlib.metadata import version

    import pydantic
    import pydantic_core

    from ... import server, tools

    digest = hashlib.sha256()
    # Our own version adds nothing to the bytes of our source below (and reading it costs a few ms).
    for part in (version("mcp"), pydantic.VERSION, pydantic_core.__version__, sys.version):
        digest.update(part.encode() + b"\0")
    for package in (server, tools):
        root = Path(package.__file__ or "").parent
        for source in sorted(root.rglob("*.py")):
            digest.update(source.relative_to(root).as_posix().encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


class SchemaCache:
    """The schemas of the registry's tools, read from `path` when its fingerprint matches."""

    def __init__(self, path: Path | None, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self._entries: dict[str, Entry] = self._read() if path is not None else {}
        self._dirty = False

    def _read(self) -> dict[str, Entry]:
        assert self.path is not None
        try:
            stored = json.loads(self.path.read_bytes())
            if not isinstance(stored, dict) or stored.get("fingerprint") != self.fingerprint:  # type: ignore[misc]
                return {}
            entries: dict[str, Any] = stored["tools"]  # type: ignore[assignment]
            if all(
                isinstance(entry, dict)
                and isinstance(entry.get("parameters"), dict)  # type: ignore[misc]
                and isinstance(entry.get("output_schema"), dict | None)  # type: ignore[misc]
                for entry in entries.values()
            ):
                return entries
        except Exception as exc:  # missing, unreadable, not JSON, wrong shape: build as if there were none
            log.debug("tool schema cache not used (%s)", type(exc).__name__)
        return {}

    @cached_property
    def _registry(self) -> frozenset[int]:
        from ...tools import ALL_TOOLSETS

        return frozenset(id(spec) for toolset in ALL_TOOLSETS for spec in toolset.specs)

    def covers(self, spec: ToolSpec) -> bool:
        return self.path is not None and id(spec) in self._registry

    def lookup(self, spec: ToolSpec) -> Entry | None:
        return self._entries.get(spec.name) if self.covers(spec) else None

    def store(self, spec: ToolSpec, tool: Tool) -> None:
        if self.covers(spec):
            self._entries[spec.name] = {"parameters": tool.parameters, "output_schema": tool.output_schema}
            self._dirty = True

    def save(self) -> None:
        """Write the entries if any were added: a temporary file renamed over the old one, never half a file."""
        if not self._dirty or self.path is None:
            return
        self._dirty = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            data = json.dumps({"fingerprint": self.fingerprint, "tools": self._entries}, separators=(",", ":"))
            with tempfile.NamedTemporaryFile("w", dir=self.path.parent, prefix=".tool-schemas-", delete=False) as tmp:
                tmp.write(data)
            os.replace(tmp.name, self.path)
        except Exception as exc:  # a read-only home, a full disk: the next start just builds again
            log.debug("tool schema cache not written (%s)", type(exc).__name__)


_process_cache: SchemaCache | None = None


def process_cache() -> SchemaCache:
    """The cache of this process (read once: every server of the process shares the built tools anyway)."""
    global _process_cache
    if _process_cache is None:
        try:
            path = cache_file()
            _process_cache = SchemaCache(path, fingerprint() if path is not None else "")
        except Exception as exc:  # no cache dir, source not readable (a zipped install): build every start
            log.debug("tool schema cache off (%s)", type(exc).__name__)
            _process_cache = SchemaCache(None, "")
    return _process_cache


class _ArgumentModel:
    """What `Tool.from_function` derives from the function, built once per process on the first call."""

    def __init__(self, tool: Tool) -> None:
        self._tool = tool

    @cached_property
    def full(self) -> Tool:
        t = self._tool
        full = Tool.from_function(t.fn, name=t.name, title=t.title, description=t.description, annotations=t.annotations)
        full.fn_metadata.output_schema = t.fn_metadata.output_schema  # the cached one (server/output_schemas.py)
        return full


class DeferredTool(ReadableArgumentsTool):
    """A tool listed from cached schemas; its argument model is built when it is first called."""

    _deferred: _ArgumentModel | None = PrivateAttr(default=None)

    async def run(self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False) -> Any:
        if self._deferred is not None:
            # Coupled to the SDK: `Tool.run` reads exactly these fields that `from_function` fills in.
            # Copies (server/apps stamp_views) share the one _ArgumentModel, so it is built once.
            full = self._deferred.full
            self.fn_metadata, self.context_kwarg = full.fn_metadata, full.context_kwarg
            self.resolved_params, self.resolver_plans = full.resolved_params, full.resolver_plans
            self._deferred = None
        return await super().run(arguments, context, convert_result)


def deferred_tool(fn: Any, entry: Entry, *, name: str, title: str, description: str,
                  annotations: ToolAnnotations) -> Tool:
    """The tool `ReadableArgumentsTool.from_function(fn, ...)` would make, listed from `entry` (see the module doc)."""
    tool = DeferredTool(
        fn=fn,
        name=name,
        title=title,
        description=description,
        parameters=entry["parameters"],
        # Until the first call only the output schema is read (`Tool.output_schema`, for tools/list).
        fn_metadata=FuncMetadata.model_construct(output_schema=entry["output_schema"]),
        is_async=True,
        context_kwarg=None,  # with resolved_params and resolver_plans: filled in on the first call
        annotations=annotations,
    )
    tool._deferred = _ArgumentModel(tool)  # pyright: ignore[reportPrivateUsage]
    return tool
