"""Every catalogue id has a test; every cited id exists; pending entries are still pending.

Scans the source of every test module under tests/ for `@requirement("...")` (so other suites can
cite ids without importing anything at collection time), and checks `COVERED_ELSEWHERE` entries
point at test functions that exist.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .requirements import COVERED_ELSEWHERE, NOT_APPLICABLE, PENDING, REQUIREMENTS

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


def _test_files() -> list[Path]:
    return [p for p in TESTS.rglob("*.py") if "node_modules" not in p.parts]


def cited(files: list[Path] | None = None, root: Path = ROOT) -> dict[str, list[str]]:
    """id -> ['tests/x.py::test_name', ...] for every `@requirement(...)` on a test function or class."""
    found: dict[str, list[str]] = {}
    for path in _test_files() if files is None else files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            for deco in node.decorator_list:
                if not (isinstance(deco, ast.Call) and getattr(deco.func, "id", getattr(deco.func, "attr", "")) == "requirement"):
                    continue
                for arg in deco.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        where = f"{path.relative_to(root).as_posix()}::{node.name}"
                        found.setdefault(arg.value, []).append(where)
    return found


def _test_exists(ref: str) -> bool:
    file, _, name = ref.partition("::")
    path = ROOT / file
    if not path.is_file():
        return False
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name and name.startswith("test")
        for node in ast.walk(tree)
    )


def test_every_cited_id_is_known() -> None:
    unknown = {rid: where for rid, where in cited().items() if rid not in REQUIREMENTS}
    assert not unknown, f"tests cite ids missing from tests/trust/requirements.py: {unknown}"


def test_every_requirement_has_a_test_or_is_pending() -> None:
    covered = set(cited()) | set(COVERED_ELSEWHERE)
    missing = sorted(set(REQUIREMENTS) - covered - set(PENDING))
    assert not missing, f"requirements without a test (add @requirement or list them in PENDING): {missing}"


def test_pending_entries_are_still_pending_and_known() -> None:
    covered = set(cited()) | set(COVERED_ELSEWHERE)
    stale = sorted(set(PENDING) & covered)
    assert not stale, f"these ids now have tests; remove them from PENDING: {stale}"
    assert set(PENDING) <= set(REQUIREMENTS)
    assert all(reason.strip() for reason in PENDING.values())


def test_covered_elsewhere_points_at_existing_tests() -> None:
    broken = [ref for refs in COVERED_ELSEWHERE.values() for ref in refs if not _test_exists(ref)]
    assert not broken, f"COVERED_ELSEWHERE names tests that do not exist: {broken}"
    assert set(COVERED_ELSEWHERE) <= set(REQUIREMENTS)


def test_not_applicable_ids_are_not_required() -> None:
    assert not set(NOT_APPLICABLE) & set(REQUIREMENTS)
    assert all(reason.strip() for reason in NOT_APPLICABLE.values())


def test_the_scanner_reads_every_way_of_citing(tmp_path: Path) -> None:
    """Control for the gates above: they are only as good as `cited`, which must see a bare and a
    qualified marker on sync, async and class tests, every id of a multi-id marker, and nothing else."""
    source = tmp_path / "test_sample.py"
    source.write_text(
        "import pytest\n"
        "from tests.trust import requirements\n"
        "from tests.trust.requirements import requirement\n"
        "@requirement('a.one', 'a.two')\n"
        "def test_sync(): ...\n"
        "@requirements.requirement('b.one')\n"
        "async def test_async(): ...\n"
        "@requirement('c.one')\n"
        "class TestGroup: ...\n"
        "@pytest.mark.parametrize('x', ['not.an.id'])\n"
        "def test_other(x): ...\n"
        "def requirement_lookalike(): return 'd.one'\n",
        encoding="utf-8",
    )
    assert cited([source], tmp_path) == {
        "a.one": ["test_sample.py::test_sync"],
        "a.two": ["test_sample.py::test_sync"],
        "b.one": ["test_sample.py::test_async"],
        "c.one": ["test_sample.py::TestGroup"],
    }
    # And on the real suite it finds this module's neighbours (not vacuous).
    assert "tests/trust/test_secrets.py::test_log_scrubbing_covers_loggers_and_handlers_created_later" in cited()[
        "secret.log-scrubbing"
    ]
