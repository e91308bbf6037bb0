from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from msgflash_mcp.sandbox.campaign_runs import Resolution

from tests.fake_time import FakeClock
from tests.resolution import resolution_fixture  # noqa: F401  (`resolution`: every sandbox here takes it)

from .helpers import client_for, make_app


@pytest.fixture
def anyio_backend() -> str:  # same as tests/conftest.py; lets `--confcutdir tests/sandbox` run alone
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(clock: FakeClock, resolution: Resolution) -> Any:
    return make_app(now=clock.now, resolution=resolution)


@pytest.fixture
async def api(app: Any) -> AsyncIterator[httpx2.AsyncClient]:
    async with client_for(app) as c:
        yield c
