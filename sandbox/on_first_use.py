"""The embedded sandbox made on its first request, so a server's start-up does not pay for it.

Importing the simulator and seeding its database is about a tenth of what `msgflash-mcp --sandbox`
does before it answers `tools/list`, and listing tools never reaches it. `SandboxOnFirstUse` is an ASGI
app that builds the real one (`create_app`) the first time it is called or its `state` is read, then
forwards to it. Building it has no await, so two first requests cannot build two. Its database path may
be a function, asked at that moment too: the default one (in the user data folder, made if missing) is
found with platformdirs and a mkdir, about 2 ms of CPU that listing tools does not need.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.datastructures import State
    from starlette.types import Receive, Scope, Send


class SandboxOnFirstUse:
    def __init__(self, *, db_path: str | Callable[[], str], rate_limit: float) -> None:
        self._db_path = db_path
        self._rate_limit = rate_limit
        self._app: Starlette | None = None

    @property
    def app(self) -> Starlette:
        if self._app is None:
            from .app import SandboxConfig, create_app

            if callable(self._db_path):
                self._db_path = self._db_path()
            self._app = create_app(SandboxConfig(db_path=self._db_path, rate_limit=self._rate_limit))
        return self._app

    @property
    def built(self) -> bool:
        return self._app is not None

    @property
    def state(self) -> State:
        """The real app's state (`state.sandbox`: faults, ledger, clock), building it if needed."""
        return self.app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def __repr__(self) -> str:
        db_path = self._db_path if isinstance(self._db_path, str) else "(the default, found on first use)"
        return f"SandboxOnFirstUse(db_path={db_path!r}, built={self.built})"


__all__ = ["SandboxOnFirstUse"]

