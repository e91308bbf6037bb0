# The part of linkify-it-py this server uses (server/guard/policy.py), typed: the package ships no stubs.
# pyright reads stubs from ./typings (its default stubPath).
from typing import Any

class Match:
    schema: str
    index: int
    last_index: int
    raw: str
    text: str
    url: str

class LinkifyIt:
    def __init__(self, schemas: dict[str, Any] | None = None, options: dict[str, Any] | None = None) -> None: ...
    def pretest(self, text: str) -> bool: ...
    def match(self, text: str) -> list[Match] | None: ...
    def tlds(self, list_tlds: list[str] | str, keep_old: bool = False) -> LinkifyIt: ...
