"""The confirmation guard: nothing that messages people, deletes data or redirects data flows happens
without a confirmation of exactly what will run.

`confirm` decides per call (elicitation form or bound single-use token); `redis_store` shares the
token store across replicas.
"""

from .confirm import (
    TOKEN_PREFIX,
    TOKEN_TTL,
    ClaimStatus,
    ConfirmForm,
    Decision,
    Guard,
    MemoryTokenStore,
    StaleToken,
    TokenRecord,
    TokenStore,
    _hash,  # pyright: ignore[reportPrivateUsage]
    can_elicit_form,
    digest,
    normalise,
)

__all__ = [
    "TOKEN_PREFIX",
    "TOKEN_TTL",
    "ClaimStatus",
    "ConfirmForm",
    "Decision",
    "Guard",
    "MemoryTokenStore",
    "StaleToken",
    "TokenRecord",
    "TokenStore",
    "_hash",
    "can_elicit_form",
    "digest",
    "normalise",
]
