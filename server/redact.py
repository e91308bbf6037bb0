"""Secrets never leave: an exact-value scrubber for every configured key, used by logs and tool output.

Header-name filters miss the case that matters most here: an API error body that echoes the key
back. Exact-value matching catches it wherever it appears. Key-shaped strings that are not
configured (another key pasted into a message) are masked too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

MASK = "[redacted]"
_KEY_SHAPE = re.compile(r"msgf_(?:live|team)_[0-9A-Za-z]{8,}")


class Scrubber:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        for secret in secrets:
            if secret and len(secret) >= 8 and secret not in self._secrets:
                self._secrets.append(secret)
        # Longest first, so a secret containing another is masked whole.
        self._secrets.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return _KEY_SHAPE.sub(MASK, value)

    def data(self, value: Any) -> Any:
        """Scrub every string inside JSON-like data."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}  # type: ignore[misc]
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]  # type: ignore[misc]
        return value


class ScrubbingFilter(logging.Filter):
    """Rewrites every record (message, args, exception text) through the scrubber."""

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self._scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            message += "\n" + "".join(traceback.format_exception(*record.exc_info))
            record.exc_info = None
            record.exc_text = None
        record.msg = self._scrubber.text(message)
        record.args = None
        return True


_installed: list[tuple[logging.Handler, ScrubbingFilter]] = []


def install_log_scrubbing(scrubber: Scrubber) -> None:
    """Attach the filter to every handler of the root logger (and future ones via the root itself)."""
    root = logging.getLogger()
    filt = ScrubbingFilter(scrubber)
    for handler in root.handlers:
        handler.addFilter(filt)
        _installed.append((handler, filt))
    root.addFilter(filt)
