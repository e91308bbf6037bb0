"""The Redis fixture never turns a missing or broken redis-server into silently skipped tests on CI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.redis_server import INSTALL_HINT, find_redis_server, start_redis_server


def test_missing_binary_fails_on_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set, so the Redis tests must run"):
        find_redis_server()


def test_missing_binary_skips_locally_with_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        find_redis_server()
    assert INSTALL_HINT in str(skipped.value)


def test_a_server_that_will_not_start_is_an_error_with_its_log(tmp_path: Path) -> None:
    fake = tmp_path / "redis-server"  # writes a fatal line to the log it is given, then exits
    fake.write_text(f"#!{sys.executable}\nimport sys\nargs = sys.argv\n"
                    "open(args[args.index('--logfile') + 1], 'w').write('FATAL: cannot bind')\nsys.exit(1)\n")
    fake.chmod(0o755)
    with pytest.raises(RuntimeError, match="cannot bind"):
        start_redis_server(str(fake), tmp_path)
