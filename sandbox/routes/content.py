"""Message content rules shared by messages (send/schedule) and campaigns."""

from __future__ import annotations

from typing import Any

from ..util import F, is_public_url, require

MESSAGE_TYPES = ("text", "image", "video", "audio", "document", "voice_note", "location", "contact", "buttons")
CAMPAIGN_TYPES = ("text", "image", "video", "audio", "document", "voice_note", "buttons")
MEDIA_TYPES = ("image", "video", "audio", "voice_note", "document")
BUTTON_KINDS = ("reply", "copy", "url", "call", "pix")
BUTTON_REQUIRED = {
    "reply": ("displayText", "id"),
    "copy": ("displayText", "copyCode"),
    "url": ("displayText", "url"),
    "call": ("displayText", "phoneNumber"),
    "pix": ("currency", "name", "keyType", "key"),
}
BUTTON_FIELDS = {"type", "title", "displayText", "id", "url", "phoneNumber", "copyCode", "currency", "name", "keyType", "key"}

BUTTONS_SPEC = {
    "title": F("string", max_len=1024),
    "description": F("string", max_len=4096),
    "footer": F("string", max_len=1024),
    "buttons": F("array"),
}


def check_buttons(body: dict[str, Any], details: list[dict[str, Any]]) -> None:
    require(bool(body.get("title")), "title", "Required for type=buttons", details)
    require(bool(body.get("description")), "description", "Required for type=buttons", details)
    buttons = body.get("buttons")
    if not buttons:
        details.append({"field": "buttons", "message": "Required for type=buttons (1 or 2 buttons)"})
        return
    if len(buttons) > 2:
        details.append({"field": "buttons", "message": "At most 2 buttons"})
        return
    for i, b in enumerate(buttons):
        where = f"buttons[{i}]"
        if not isinstance(b, dict):
            details.append({"field": where, "message": "Expected an object"})
            continue
        kind = b.get("type")
        if kind is None and b.get("title") in BUTTON_KINDS:  # tolerated doc slip (REFERENCE §19.4)
            kind = b.get("title")
        if kind not in BUTTON_KINDS:
            details.append({"field": where + ".type", "message": "One of " + ", ".join(BUTTON_KINDS)})
            continue
        for name in sorted(set(b) - BUTTON_FIELDS):
            details.append({"field": f"{where}.{name}", "message": "Unknown field"})
        for name in BUTTON_REQUIRED[kind]:
            if not isinstance(b.get(name), str) or not b.get(name):
                details.append({"field": f"{where}.{name}", "message": f"Required for a {kind} button"})
        if kind == "url" and isinstance(b.get("url"), str) and not is_public_url(b["url"]):
            details.append({"field": where + ".url", "message": "Expected an http(s) URL"})


def check_media(body: dict[str, Any], mtype: str, details: list[dict[str, Any]]) -> None:
    if mtype in MEDIA_TYPES:
        url = body.get("mediaUrl")
        if url is None:
            details.append({"field": "mediaUrl", "message": f"Required for type={mtype}"})
        elif not is_public_url(url):
            details.append({"field": "mediaUrl", "message": "Expected a public http(s) URL"})
