"""The JSON Schema generator for every schema the server publishes (tool inputs and outputs).

Pydantic's generator encodes each field default by building a `TypeAdapter` for the default's type and
dumping it in JSON mode: about a third of generating our ~75 schemas at start-up, almost all of it for
`None` (every optional argument, the pipeline's `workspace` and `confirm_token`). A JSON-native scalar
is its own JSON encoding, so it is returned as is; anything else still goes through pydantic. The
schemas come out identical (tests/contract/__toolsnaps__); `encode_default` is pydantic's documented
override point, passed with `model_json_schema(schema_generator=...)`.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

# Exact types only: a subclass (an enum member, a bool-like int) may serialise differently.
_OWN_ENCODING = (type(None), bool, int, str)


class SchemaGenerator(GenerateJsonSchema):
    def encode_default(self, dft: Any) -> Any:
        if type(dft) in _OWN_ENCODING or (type(dft) is float and math.isfinite(dft)):
            return dft
        return super().encode_default(dft)
