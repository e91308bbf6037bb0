"""Where log lines go (stderr) and how loud each part is.

`MSGFLASH_LOG_LEVEL` is for the product's own loggers (`msgflash_mcp.*`). Third-party loggers stay
at WARNING: at DEBUG, sse_starlette logs every SSE chunk it sends (whole tool results: confirmation
tokens, webhook secrets, message bodies, phone numbers), httpx2/httpcore log each exchange, mcp logs
raw messages. `MSGFLASH_LOG_LEVEL_ALL` sets them on purpose, to debug the SDK or a transport.

Whatever the levels, every record is scrubbed (redact.install_log_scrubbing: the configured
secrets, each HTTP token, key-, confirmation-token- and webhook-secret-shaped strings, and webhook
secrets the API returned), and the one handler installed here scrubs again on its way out.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

from .core.settings import Settings
from .redact import Scrubber, ScrubbingFilter, install_log_scrubbing, log_scrubber

PRODUCT_LOGGER = "msgflash_mcp"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def third_party_level(settings: Settings) -> Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]:
    """The level of every logger that is not ours (uvicorn's included); settings validated the name."""
    level = settings.log_level_all or "WARNING"
    return level if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "WARNING"


def configure_logging(settings: Settings) -> None:
    """Scrubbing first (so no record is ever born unscrubbed), then one stderr handler on the root."""
    install_log_scrubbing(Scrubber(settings.secrets()))
    root = logging.getLogger()
    if not any(isinstance(f, ScrubbingFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler.addFilter(ScrubbingFilter(log_scrubber()))
        root.addHandler(handler)
    root.setLevel(third_party_level(settings))
    logging.getLogger(PRODUCT_LOGGER).setLevel(settings.log_level)
