"""Every inference is labelled: api-contract/INFERENCES.md and the `inferred(<id>)` comments in the code
name the same set of ids, and no comment in the sandbox says "inferred" without naming its row."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
TABLE = ROOT / "api-contract/INFERENCES.md"
CODE = ("sandbox", "server", "tools")
TAG = re.compile(r"inferred\(([a-z0-9-]+)\)")
ROW = re.compile(r"^\| `([a-z0-9-]+)` \|(.+)$")


def table_rows() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} has two rows"
            rows[m.group(1)] = [cell.strip() for cell in m.group(2).rstrip("|").split("|")]
    return rows


def code_tags() -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {}
    for folder in CODE:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for tag in TAG.findall(line):
                    tags.setdefault(tag, []).append(f"{path.relative_to(ROOT)}:{n}")
    return tags


def test_the_table_and_the_code_name_the_same_inferences() -> None:
    rows, tags = table_rows(), code_tags()
    assert len(rows) >= 15, "is the table's row format still | `id` | ... |?"
    assert sorted(set(tags) - set(rows)) == [], "inferred(...) comments without a row in api-contract/INFERENCES.md"
    assert sorted(set(rows) - set(tags)) == [], "rows of api-contract/INFERENCES.md that no code comment names"


def test_every_row_says_what_was_chosen_and_what_the_client_survives() -> None:
    for name, cells in table_rows().items():
        assert len(cells) == 4 and all(cells), f"{name}: subject, choice, hint and alternatives are all needed"


def test_no_sandbox_comment_says_inferred_without_its_row() -> None:
    bare = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "sandbox").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\binferred\b(?!\()", line, re.IGNORECASE)
    ]
    assert bare == [], "say inferred(<id>) and add the row to api-contract/INFERENCES.md"
