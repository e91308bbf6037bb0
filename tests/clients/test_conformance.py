"""The MCP conformance suite's server scenarios against `msgflash-mcp --sandbox --transport http`.

Every scenario must pass except those in conformance-baseline.json, which need the suite's own
fixture tools/prompts/resources (`test_simple_text`, `test://static-text`, ...). A failure outside
the baseline fails the test, and so does a baseline entry that starts passing (stale baseline).
The suite's own `--expected-failures` check runs too, so both readings must agree.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import CONFORMANCE, HERE, RunningServer, run

pytestmark = [pytest.mark.anyio, pytest.mark.npm, pytest.mark.slow, pytest.mark.timeout(120)]  # Node clients + a server

BASELINE = HERE / "conformance-baseline.json"
# Scenarios that involve no fixture at all: named here so a baseline edit can never hide them.
REQUIRED = {
    "server-initialize",
    "logging-set-level",
    "ping",
    "completion-complete",
    "tools-list",
    "server-sse-multiple-streams",
    "resources-list",
    "prompts-list",
    "dns-rebinding-protection",
}
_RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")


def load_baseline() -> dict[str, str]:
    data = json.loads(BASELINE.read_text())
    baseline: dict[str, str] = data["server"]
    assert all(reason.strip() for reason in baseline.values()), "every baseline entry needs its reason"
    return baseline


def outcomes(results: Path) -> dict[str, list[dict[str, Any]]]:
    """scenario -> its checks, from the suite's `-o` directory."""
    found: dict[str, list[dict[str, Any]]] = {}
    for folder in results.iterdir():
        match = _RESULT_DIR.match(folder.name)
        if match and (folder / "checks.json").exists():
            found[match["scenario"]] = json.loads((folder / "checks.json").read_text())
    return found


def failed(checks: list[dict[str, Any]]) -> bool:
    return not checks or any(check.get("status") == "FAILURE" for check in checks)


def test_baseline_lists_no_required_scenario() -> None:
    assert not REQUIRED & set(load_baseline()), "a fixture-free scenario can never be baselined"


async def listed_scenarios(node: Path) -> set[str]:
    listing = await run([str(node), str(CONFORMANCE), "list", "--server"], limit=60)
    assert listing.returncode == 0, listing.stderr
    return set(re.findall(r"^\s*-\s+([a-z0-9-]+)", listing.stdout, re.MULTILINE))


async def test_conformance_server_scenarios(node: Path, http_server: RunningServer, tmp_path: Path) -> None:
    baseline = load_baseline()
    known = await listed_scenarios(node)
    assert known >= REQUIRED and set(baseline) <= known, f"scenarios unknown to the suite: {(REQUIRED | set(baseline)) - known}"

    expected = tmp_path / "expected-failures.yml"
    expected.write_text("server:\n" + "".join(f"  - {name}\n" for name in sorted(baseline)))
    results = tmp_path / "results"
    command = [str(node), str(CONFORMANCE), "server", "--url", http_server.url, "-o", str(results),
               "--expected-failures", str(expected)]
    suite = await run(command, limit=600, cwd=tmp_path)
    report = f"\n--- suite output ---\n{suite.stdout[-6000:]}\n{suite.stderr[-2000:]}\n--- server ---\n{http_server.output()}"

    ran = outcomes(results)
    assert ran, "the suite produced no results" + report
    missing = REQUIRED - set(ran)
    assert not missing, f"required scenarios did not run: {sorted(missing)}" + report
    unexpected = sorted(name for name, checks in ran.items() if failed(checks) and name not in baseline)
    stale = sorted(name for name in baseline if name in ran and not failed(ran[name]))
    details = "\n".join(
        f"{name}: {check.get('errorMessage')}"
        for name in unexpected
        for check in ran[name]
        if check.get("status") == "FAILURE"
    )
    assert not unexpected, f"scenarios failing outside the baseline: {unexpected}\n{details}" + report
    assert not stale, f"baseline scenarios now pass, remove them from {BASELINE.name}: {stale}" + report
    assert suite.returncode == 0, f"the suite's own baseline check failed (exit {suite.returncode})" + report
    passed = sorted(name for name, checks in ran.items() if not failed(checks))
    assert set(passed) >= REQUIRED
