"""The sandbox enforces the content limits the client checks first (tools/_content.py): the same
numbers, so a limit changed on one side only fails here, and an over-long field is a 400 naming it."""

from __future__ import annotations

from typing import Any, get_args

import httpx2
import pytest
from msgflash_mcp.sandbox import seed as S
from msgflash_mcp.sandbox.routes.campaigns import CREATE_SPEC
from msgflash_mcp.sandbox.routes.content import BUTTON_LIMITS, PIX_KEY_TYPES
from msgflash_mcp.sandbox.routes.messages import SEND_SPEC
from msgflash_mcp.tools._content import LIMITS, PixKeyType

from .helpers import error_code

pytestmark = pytest.mark.anyio
SEND = {"instanceId": S.PERSONAL_CONNECTED_INSTANCE_ID, "to": "+33612345000"}
URL = {"type": "url", "displayText": "Voir", "url": "https://example.com/x"}
BUTTONS = {"type": "buttons", "title": "T", "description": "D", "buttons": [URL]}


def test_the_client_and_the_sandbox_share_every_content_limit() -> None:
    sandbox = {name: SEND_SPEC[name].max_len for name in ("text", "title", "description", "footer",
                                                          "locationName", "locationAddress")}
    sandbox.update(BUTTON_LIMITS)
    assert sandbox == LIMITS
    assert CREATE_SPEC["body"].max_len == LIMITS["text"]  # a campaign's text is `body`
    assert get_args(PixKeyType) == PIX_KEY_TYPES


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SEND, **BUTTONS, "title": "T" * (LIMITS["title"] + 1)}, "title"),
        ({**SEND, **BUTTONS, "footer": "F" * (LIMITS["footer"] + 1)}, "footer"),
        ({**SEND, "type": "location", "latitude": 1, "longitude": 2,
          "locationName": "n" * (LIMITS["locationName"] + 1)}, "locationName"),
        ({**SEND, **BUTTONS, "buttons": [{**URL, "displayText": "x" * (LIMITS["displayText"] + 1)}]},
         "buttons[0].displayText"),
        ({**SEND, **BUTTONS, "buttons": [{"type": "copy", "displayText": "c", "copyCode": "c" * (LIMITS["copyCode"] + 1)}]},
         "buttons[0].copyCode"),
        ({**SEND, **BUTTONS, "buttons": [{"type": "pix", "currency": "BRL", "name": "Loja", "keyType": "iban",
                                          "key": "k"}]}, "buttons[0].keyType"),
    ],
    ids=["title", "footer", "location name", "display text", "copy code", "pix key type"],
)
async def test_the_sandbox_refuses_an_overlong_or_unknown_content_field(
    api: httpx2.AsyncClient, body: dict[str, Any], field: str
) -> None:
    r = await api.post("/api/v1/messages/send", json=body)
    assert (r.status_code, error_code(r)) == (400, "VALIDATION_ERROR")
    assert [d["field"] for d in r.json()["error"]["details"]] == [field]
    assert len(r.text) < 2000  # named, not echoed
