"""The keys one tool call may present, bound once: what the API client receives.

A `Workspace` is one bound credential (its key, and `X-Team-Id` for a team). `Credentials` are a call's:
the workspace the caller chose and the personal key. Which of the two a request carries is decided
here and nowhere else (`Credentials.for_route`): personal-only routes always carry the personal key,
whatever workspace is active, so a team key never reaches them. The call binding (server/call/context.py)
and the API client (server/api/client.py) both ask; neither knows the workspace table (core/workspaces.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from .errors import WorkspaceError

NO_PERSONAL_KEY = (
    "this tool reads account-level data that MsgFlash only serves to the personal key, "
    "and none is configured; set MSGFLASH_API_KEY (msgf_live_...) in the server's environment"
)


@dataclass(frozen=True)
class Workspace:
    name: str  # "personal" or a team name
    key: SecretStr
    team_id: str | None  # None for personal

    @property
    def kind(self) -> str:
        return "personal" if self.team_id is None else "team"

    def label(self, sandbox: bool) -> str:
        """How results name it: 'personal', 'acme', with '(sandbox)' on the simulator."""
        return f"{self.name} (sandbox)" if sandbox else self.name

    def headers(self) -> dict[str, str]:
        headers = {"x-api-key": self.key.get_secret_value()}
        if self.team_id is not None:
            headers["X-Team-Id"] = self.team_id
        return headers

    def __repr__(self) -> str:  # never the key
        return f"Workspace(name={self.name!r}, kind={self.kind!r})"


@dataclass(frozen=True)
class Credentials:
    """The keys one call may present, bound once: the workspace its caller chose (None when the call acts
    in none it could choose: the server's own tools, personal-only routes) and the personal key (None when
    none is configured)."""

    chosen: Workspace | None
    personal: Workspace | None
    sandbox: bool = False  # results name workspaces "personal (sandbox)" on the simulator

    def for_route(self, personal_only: bool) -> Workspace:
        """The key a request to a route carries: the personal key for a personal-only route (an error
        saying what to configure when there is none), else the chosen workspace's."""
        if personal_only:
            if self.personal is None:
                raise WorkspaceError(NO_PERSONAL_KEY)
            return self.personal
        if self.chosen is None:
            raise RuntimeError("this call resolved no workspace, so only personal-only routes are open to it")
        return self.chosen

    def label(self, workspace: Workspace | None) -> str:
        """How results name `workspace` ('-' for none)."""
        return workspace.label(self.sandbox) if workspace is not None else "-"
