"""Secrets never leave: an exact-value scrubber for every configured key, used by logs and tool output.

Header-name filters miss the case that matters most here: an API error body that echoes the key
back. Exact-value matching catches it wherever it appears. Key-shaped strings that are not
configured (another key pasted into a message) are masked too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from .wire import json_list, json_object

MASK = "[redacted]"
_KEY_SHAPE = re.compile(r"msgf_(?:live|team)_[0-9A-Za-z]{8,}")
# Secrets a model must see but a log must not: confirmation tokens (server/guard/confirm.py mints
# `cfm_` + 32 url-safe characters) and webhook signing secrets in the `whsec_` shape. Real API
# secrets of any shape are learned from the responses that carry them (`remember_returned_secrets`).
LOG_ONLY_SHAPES = re.compile(r"cfm_[A-Za-z0-9_-]{16,}|whsec_[A-Za-z0-9_-]{16,}")


class Scrubber:
    def __init__(self, secrets: Iterable[str] = (), *, shapes: re.Pattern[str] | None = None) -> None:
        self._secrets: list[str] = []
        self._shapes = shapes
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        for secret in secrets:
            if secret and len(secret) >= 8 and secret not in self._secrets:
                self._secrets.append(secret)
        # Longest first, so a secret containing another is masked whole.
        self._secrets.sort(key=len, reverse=True)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self._secrets)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        if self._shapes is not None:
            value = self._shapes.sub(MASK, value)
        return _KEY_SHAPE.sub(MASK, value) if "msgf_" in value else value

    def data(self, value: Any) -> Any:
        """Scrub every string inside JSON-like data."""
        if isinstance(value, str):
            return self.text(value)
        if (mapping := json_object(value)) is not None:
            return {self.text(str(k)): self.data(v) for k, v in mapping.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in cast("Sequence[object]", value)]
        return value


def _scrub_arg(scrubber: Scrubber, value: Any) -> Any:
    """One formatting argument scrubbed; a non-string one is kept as it is unless its text holds a secret
    (then its scrubbed text replaces it: `%s` still formats it, and nothing secret survives)."""
    if isinstance(value, str):
        return scrubber.text(value)
    if isinstance(value, int | float | bool | None):
        return value
    text = str(value)
    scrubbed = scrubber.text(text)
    return value if scrubbed == text else scrubbed


def _scrub_record(scrubber: Scrubber, record: logging.LogRecord) -> None:
    """Rewrite a record in place: template, args, exception and stack text, each scrubbed.

    `record.args` keeps its shape (a tuple stays a tuple of as many items, a mapping keeps its keys):
    third-party formatters read it, e.g. uvicorn's access formatter unpacks five arguments. Only a
    record whose secret appears whole after formatting alone (split between the template and an
    argument) is flattened to its scrubbed message, with empty args.
    """
    args = record.args
    if isinstance(args, Mapping):
        record.args = {key: _scrub_arg(scrubber, item) for key, item in args.items()}
    elif isinstance(args, tuple):
        record.args = tuple(_scrub_arg(scrubber, item) for item in args)
    if isinstance(record.msg, str):
        record.msg = scrubber.text(record.msg)
    try:
        message = record.getMessage()
    except Exception:  # a malformed format/args pair: keep the (scrubbed) template, drop the args
        message, record.args = str(record.msg), ()
    scrubbed = scrubber.text(message)
    if scrubbed != message:
        record.msg, record.args = scrubbed, ()
    if record.exc_info and record.exc_info[1] is not None:
        import traceback

        # The formatter appends exc_text when exc_info is gone: the traceback is shown, scrubbed.
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    record.exc_info = None
    if record.exc_text:
        record.exc_text = scrubber.text(record.exc_text)
    if record.stack_info:
        record.stack_info = scrubber.text(record.stack_info)


class ScrubbingFilter(logging.Filter):
    """Rewrites every record (message, args, exception text) through the scrubber."""

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self._scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub_record(self._scrubber, record)
        return True


# One process-wide scrubber behind the log record factory: every secret any server in this process
# was configured with. A factory (not a filter) because logger filters do not see records that
# propagate from child loggers, and handler filters miss handlers added later (uvicorn's, a test's
# capture handler, a library's own): every record is born scrubbed, whoever handles it.
_process_scrubber = Scrubber(shapes=LOG_ONLY_SHAPES)
_factory_installed = False


def log_scrubber() -> Scrubber:
    """The process-wide scrubber of log records (for a handler filter on top of the record factory)."""
    return _process_scrubber


def remember_returned_secrets(data: Any) -> None:
    """Keep every `secret` field of an API response (create_webhook's signing secret) out of the logs.

    The tool result still shows it to the caller, once: only log records are scrubbed of it.
    """
    for item in json_list(data) or [data]:
        secret = (json_object(item) or {}).get(SECRET_FIELD)
        if isinstance(secret, str):
            _process_scrubber.add(secret)


SECRET_FIELD = "secret"  # where API responses carry a secret shown once (a webhook's signing secret)
NOT_KEPT = "[shown once in the first result; not kept]"


def without_returned_secrets(value: Any) -> Any:
    """JSON-like data with every `secret` string replaced by a note: what is kept at rest (replay entries
    in Redis) keeps the outcome, never the secret the first result showed."""
    if (mapping := json_object(value)) is not None:
        return {
            key: NOT_KEPT if key == SECRET_FIELD and isinstance(item, str) else without_returned_secrets(item)
            for key, item in mapping.items()
        }
    if (items := json_list(value)) is not None:
        return [without_returned_secrets(item) for item in items]
    return value


def install_log_scrubbing(scrubber: Scrubber) -> None:
    """Scrub the secrets of `scrubber` (and anything key-shaped) from every log record of every logger."""
    global _factory_installed
    _process_scrubber.add(*scrubber.secrets)
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _scrub_record(_process_scrubber, record)
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True
