"""Entry point of the MCPB bundle (`msgflash-mcp.mcpb`): the host runs it with the bundle's manifest command.

The bundle is the repository's source tree (server/, tools/, sandbox/ beside pyproject.toml and uv.lock).
`uv run --frozen` installs the dependencies uv.lock pins into `.venv` here, resolving nothing; the project
itself is not installed (the bundle's pyproject.toml says `package = false`, bundle/build.py). This file
imports the package from the folder it sits in, so the code that runs is always the bundle's own.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import MutableMapping
from pathlib import Path

BUNDLE_ROOT = Path(__file__).resolve().parent
UNSET_PLACEHOLDER = "${user_config."


def drop_unset_user_config(environ: MutableMapping[str, str]) -> None:
    """Forget MSGFLASH_* variables the host filled with nothing.

    The manifest maps every user_config field to an env var. A field the person left empty can arrive as ""
    (or, in some hosts, as the unsubstituted `${user_config.x}`); to the server either means "not configured",
    not "configured as an empty key" (which it would reject).
    """
    for name in [name for name in environ if name.startswith("MSGFLASH_")]:
        value = environ[name].strip()
        if not value or value.startswith(UNSET_PLACEHOLDER):
            del environ[name]


def bind_package_to_bundle() -> None:
    """`msgflash_mcp.server` is `server/` here, as pyproject's package-dir maps it for an install."""
    package = types.ModuleType("msgflash_mcp")
    package.__path__ = [str(BUNDLE_ROOT)]
    sys.modules["msgflash_mcp"] = package


if __name__ == "__main__":
    drop_unset_user_config(os.environ)
    bind_package_to_bundle()
    from msgflash_mcp.server.__main__ import main

    sys.exit(main())
