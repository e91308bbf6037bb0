"""Shared fixtures: the sandbox app, an MCP server wired to it in-process, an in-memory client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
