"""The sandbox's campaign resolution time as a fixture (sandbox/campaign_runs.py: create, start, run).

Every sandbox a test builds takes `resolution`: the default setting unless the test, or its module,
runs under each setting with `each_resolution` (what depends on it is tested three times, the rest once,
so `make test` stays fast)."""

from __future__ import annotations

import pytest
from msgflash_mcp.sandbox.campaign_runs import RESOLUTIONS, Resolution, resolution_from_env

each_resolution = pytest.mark.parametrize("resolution", RESOLUTIONS)
# Read once, at import, before tests/conftest.py clears MSGFLASH_* for each test: running the whole suite
# with MSGFLASH_SANDBOX_RESOLUTION=create (or run) is the matrix check that nothing else depends on it.
SUITE_RESOLUTION: Resolution = resolution_from_env()


@pytest.fixture(name="resolution")
def resolution_fixture() -> Resolution:
    return SUITE_RESOLUTION
