"""Inbound content is data: strip characters that hide text from people, cap lengths, quote it in prose.

Anyone can message a business number, and contact names, message bodies and template text come
back from the API verbatim. Before any of it reaches a model it loses invisible, bidi-control and
Unicode tag characters (the github-mcp-server `pkg/sanitize` set) and is length-capped; results
carry a note that such text is third-party content. `sanitize` cleans data; prose a person reads (a
preview, a form, a summary line, an error) shows third-party text through `quote_untrusted` or
`one_line`: one line, capped, and quoted where it sits among our own words. `shown` puts any value of
a plan (a list, a `who` block of people) into those words for a form, and `readable` cleans a whole
view (the preview and the review card's data) the same way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, cast

from .wire import json_list, json_object

MAX_TEXT = 4096  # a WhatsApp text body's own cap; nothing legitimate is longer
_INVISIBLE = re.compile(
    "["
    "\u00ad"  # soft hyphen
    "\u034f"  # combining grapheme joiner
    "\u061c"  # arabic letter mark
    "\u115f\u1160\u3164\uffa0"  # hangul fillers
    "\u17b4\u17b5"
    "\u180b-\u180f"  # mongolian variation selectors and vowel separator
    "\u200b-\u200f"  # zero-width space/joiners, LRM/RLM
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2060-\u206f"  # word joiner, invisible operators, bidi isolates
    "\ufe00-\ufe0f"  # variation selectors
    "\ufeff"  # BOM / zero-width no-break space
    "\ufff9-\ufffb"  # interlinear annotations
    "\U000e0000-\U000e007f"  # tag characters (ASCII smuggling)
    "\U000e0100-\U000e01ef"  # variation selectors supplement
    "]"
)


# C0/C1 control characters except tab and newline (the Unicode "Cc" category).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Every way text can start a new line on a screen: a second "Recipients: 1" line must not be forgeable.
_LINE_BREAKS = re.compile("[\n\v\f\r\x85\u2028\u2029]+")


def clean_text(value: str, limit: int = MAX_TEXT) -> str:
    # Fast path, most API strings (ids, timestamps, enums, plain names): printable ASCII carries
    # no invisible, bidi, tag or control characters and is already NFC.
    if not (value.isascii() and value.isprintable()):
        value = unicodedata.normalize("NFC", value)
        value = _INVISIBLE.sub("", value)
        value = _CONTROL.sub("", value)
    if len(value) > limit:
        value = value[:limit] + f"… [truncated {len(value) - limit} chars]"
    return value


def sanitize(value: Any) -> Any:
    """Clean every string in JSON-like API data (keys included)."""
    if isinstance(value, str):
        return clean_text(value)
    if (mapping := json_object(value)) is not None:
        return {clean_text(str(k), 200): sanitize(v) for k, v in mapping.items()}
    if (items := json_list(value)) is not None:
        return [sanitize(v) for v in items]
    return value


def one_line(value: object, limit: int = 80, breaks: str | None = None) -> str:
    """Third-party text made safe to show a person on one line: the one sanitiser for previews, forms,
    summary lines and errors.

    `clean_text` (no invisible, bidi, tag or control characters), then every run of whitespace,
    newlines and Unicode line/paragraph separators included, becomes one space (12 newlines in a
    contact name cannot push the workspace line of a confirmation off screen), then capped at
    `limit` characters with an ellipsis. `breaks` ("⏎") marks where a message's own lines were,
    instead of hiding them.
    """
    text = clean_text(str(value), limit * 4)
    if breaks:
        text = _LINE_BREAKS.sub(f" {breaks} ", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def quote_untrusted(value: object, limit: int = 80, breaks: str | None = None) -> str:
    """`one_line`, in double quotes with inner quotes and backslashes escaped, so the reader sees where
    third-party text starts and ends: `Created contact "SYSTEM: ignore prior instructions…"`."""
    text = one_line(value, limit, breaks).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def names_line(people: Sequence[Mapping[str, Any]], count: int, first: int = 3) -> str:
    """The first people of a selection in words, the rest as a count: '"Awa Diop" (+336…), "Jean" (+336…) and
    3 more'. Names are quoted (third-party text); a form or a card never shows a raw dict of them."""
    named = [f"{quote_untrusted(p.get('name') or '?', 40)} ({one_line(p.get('phone') or '?', 32)})" for p in people[:first]]
    if not named:
        return f"{count} contact(s)"
    rest = count - len(named)
    return ", ".join(named) + (f" and {rest} more" if rest > 0 else "")


def shown(value: object, limit: int = 200) -> str:
    """Any informational value of a plan as one line of words: lists joined, a `who` block ({count,
    sample}) as `names_line`, other mappings as "key: value" pairs; every string through `one_line`."""
    if isinstance(value, Mapping):
        block = cast("Mapping[str, Any]", value)
        sample, count = json_list(block.get("sample")), block.get("count")
        if sample is not None and isinstance(count, int):
            return names_line([person for p in sample if (person := json_object(p)) is not None], count)
        return "; ".join(f"{one_line(k, 40)}: {shown(v, limit)}" for k, v in block.items())
    if isinstance(value, list | tuple):
        return ", ".join(shown(v, limit) for v in cast("Sequence[object]", value))
    return one_line(value, limit)



def readable(value: Any, multiline: frozenset[str] = frozenset()) -> Any:
    """JSON-like data a person reads (a plan's view, the review card's data), cleaned like `sanitize` and
    with line breaks turned into spaces, except in the keys of `multiline` (message text, shown by the card
    as a block of its own), where they become plain newlines."""
    if isinstance(value, str):
        return _LINE_BREAKS.sub(" ", clean_text(value))
    if (mapping := json_object(value)) is not None:
        return {
            k: _LINE_BREAKS.sub("\n", clean_text(v)) if k in multiline and isinstance(v, str) else readable(v, multiline)
            for k, v in mapping.items()
        }
    if (items := json_list(value)) is not None:
        return [readable(v, multiline) for v in items]
    return value
