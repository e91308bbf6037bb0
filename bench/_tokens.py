"""o200k_base token counting that works offline: bpe-openai embeds the encoding; else bytes/4."""

from __future__ import annotations

from collections.abc import Callable


def token_counter() -> tuple[Callable[[str], int], str]:
    try:
        import bpe_openai

        encoding = bpe_openai.get_encoding("o200k_base")
        return (lambda text: len(encoding.encode(text))), "o200k_base (bpe-openai, offline)"
    except Exception:  # the package or its data is missing: say so and estimate
        return (lambda text: (len(text.encode()) + 3) // 4), "bytes/4 estimate (o200k_base unavailable)"
