"""Which key a request carries is decided once, by the call's bound credentials (server/core/credentials.py).

The call binding and the API client both ask `Credentials.for_route`; personal-only routes always get the
personal key, whatever workspace the caller chose, and without one the error says what to configure.
"""

from __future__ import annotations

import pytest
from msgflash_mcp.server.api.client import Api
from msgflash_mcp.server.api.route import GET
from msgflash_mcp.server.core.credentials import Credentials, Workspace
from msgflash_mcp.server.core.errors import WorkspaceError
from pydantic import SecretStr

PERSONAL = Workspace("personal", SecretStr("msgf_live_" + "1" * 64), None)
TEAM = Workspace("acme", SecretStr("msgf_team_" + "2" * 64), "7e7e7e7e-0000-4000-8000-000000000009")
USAGE = GET("/api/v1/usage", personal=True)
INSTANCES = GET("/api/v1/instances")


def test_a_personal_only_route_carries_the_personal_key_whatever_was_chosen() -> None:
    for chosen in (TEAM, PERSONAL, None):
        assert Credentials(chosen, PERSONAL).for_route(personal_only=True) is PERSONAL
    assert Credentials(TEAM, PERSONAL).for_route(personal_only=False) is TEAM


def test_without_a_personal_key_a_personal_only_route_says_what_to_configure() -> None:
    with pytest.raises(WorkspaceError, match="MSGFLASH_API_KEY"):
        Credentials(TEAM, None).for_route(personal_only=True)


def test_a_call_that_chose_no_workspace_reaches_only_personal_only_routes() -> None:
    with pytest.raises(RuntimeError, match="no workspace"):
        Credentials(None, PERSONAL).for_route(personal_only=False)


def test_the_api_acts_in_what_its_own_route_carries_and_asks_again_for_any_other() -> None:
    team_call = Credentials(TEAM, PERSONAL, sandbox=True)
    api = Api(None, INSTANCES, team_call)  # type: ignore[arg-type]  # never reaches the wire here
    assert api.workspace is TEAM and api.label == "acme (sandbox)"
    assert api.credential_for(USAGE) is PERSONAL  # e.g. a send's preview reading the monthly quota
    billing = Api(None, USAGE, Credentials(None, PERSONAL))  # type: ignore[arg-type]
    assert billing.workspace is PERSONAL and billing.label == "personal"
    assert Api(None, None, Credentials(None, None)).workspace is None  # type: ignore[arg-type]  # workspace tools
    with pytest.raises(WorkspaceError):  # the binding fails before anything is planned
        Api(None, USAGE, Credentials(TEAM, None))  # type: ignore[arg-type]
