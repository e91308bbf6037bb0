"""docs/remote.md names settings operators copy into their environment: each must be one the server reads."""

from __future__ import annotations

import re
from pathlib import Path

from msgflash_mcp.server.core.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "remote.md"


def test_every_setting_docs_remote_names_exists() -> None:
    named = set(re.findall(r"MSGFLASH_[A-Z_]+", DOC.read_text(encoding="utf-8")))
    assert {"MSGFLASH_OAUTH_ISSUER", "MSGFLASH_PUBLIC_URL", "MSGFLASH_REDIS_URL", "MSGFLASH_PRINCIPAL_KEY",
            "MSGFLASH_ALLOWED_HOSTS", "MSGFLASH_MAX_SESSIONS_PER_CLIENT"} <= named
    prefix = Settings.model_config.get("env_prefix", "")
    fields = {(prefix + name).upper() for name in Settings.model_fields}
    assert named <= fields, f"not settings: {sorted(named - fields)}"
