"""Message content rules shared by messages (send/schedule) and campaigns."""

from __future__ import annotations

from typing import Any

from ..util import F, is_public_url, require

MESSAGE_TYPES = ("text", "image", "video", "audio", "document", "voice_note", "location", "contact", "buttons")
CAMPAIGN_TYPES = ("text", "image", "video", "audio", "document", "voice_note", "buttons")
MEDIA_TYPES = ("image", "video", "audio", "voice_note", "document")
CAPTION_TYPES = ("image", "video", "document")  # §7.1: text is an optional caption on these only
BUTTON_KINDS = ("reply", "copy", "url", "call", "pix")
# §19.4. Each kind takes exactly its fields: a field of another kind is refused (a client mixing kinds fails).
BUTTON_REQUIRED = {
    "reply": ("displayText", "id"),
    "copy": ("displayText", "copyCode"),
    "url": ("displayText", "url"),
    "call": ("displayText", "phoneNumber"),
    # inferred(pix-required): §19.4's table is cut for pix; the sandbox requires all four fields it names.
    "pix": ("currency", "name", "keyType", "key"),
}

# inferred(content-lengths): the reference gives no length for these button fields; the client checks the same.
BUTTON_LIMITS = {"displayText": 256, "id": 256, "copyCode": 1024, "name": 256, "key": 256}
# inferred(pix-key-type): §19.4 shows `keyType: "random"`; the Pix scheme's five key kinds.
PIX_KEY_TYPES = ("phone", "email", "cpf", "cnpj", "random")

# inferred(content-lengths): title, description and footer lengths (the reference states none).
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
        if kind is None and b.get("title") in BUTTON_KINDS:  # inferred(button-kind-alias): §19.4's doc slip
            kind = b.get("title")
        if kind not in BUTTON_KINDS:
            details.append({"field": where + ".type", "message": "One of " + ", ".join(BUTTON_KINDS)})
            continue
        allowed = {"type", *BUTTON_REQUIRED[kind]} | ({"title"} if b.get("type") is None else set())
        for name in sorted(set(b) - allowed):
            details.append({"field": f"{where}.{name}", "message": f"Not a field of a {kind} button"})
        for name in BUTTON_REQUIRED[kind]:
            value = b.get(name)
            if not isinstance(value, str) or not value:
                details.append({"field": f"{where}.{name}", "message": f"Required for a {kind} button"})
            elif name in BUTTON_LIMITS and len(value) > BUTTON_LIMITS[name]:
                details.append({"field": f"{where}.{name}", "message": f"At most {BUTTON_LIMITS[name]} characters"})
        if kind == "pix" and isinstance(b.get("keyType"), str) and b["keyType"] not in PIX_KEY_TYPES:
            details.append({"field": where + ".keyType", "message": "One of " + ", ".join(PIX_KEY_TYPES)})
        if kind == "url" and isinstance(b.get("url"), str) and not is_public_url(b["url"]):
            details.append({"field": where + ".url", "message": "Expected an http(s) URL"})


# The content fields each direct type takes (§7.1, §8.1), besides the text/caption (its own rule per route).
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "text": (),
    **dict.fromkeys(MEDIA_TYPES, ("mediaUrl",)),
    "location": ("latitude", "longitude", "locationName", "locationAddress"),
    "contact": ("contactId",),
    "buttons": ("title", "description", "footer", "buttons"),
}
CONTENT_FIELDS = tuple(dict.fromkeys(f for fields in TYPE_FIELDS.values() for f in fields))


def check_direct_fields(body: dict[str, Any], mtype: str, details: list[dict[str, Any]]) -> None:
    """A direct type's own rules, and a refusal for each content field of another type."""
    for name in CONTENT_FIELDS:
        if name in body and name not in TYPE_FIELDS.get(mtype, ()):
            details.append({"field": name, "message": f"Not used with type={mtype}"})
    check_media(body, mtype, details)
    if mtype == "buttons":
        check_buttons(body, details)


def check_media(body: dict[str, Any], mtype: str, details: list[dict[str, Any]]) -> None:
    if mtype in MEDIA_TYPES:
        url = body.get("mediaUrl")
        if url is None:
            details.append({"field": "mediaUrl", "message": f"Required for type={mtype}"})
        elif not is_public_url(url):
            details.append({"field": "mediaUrl", "message": "Expected a public http(s) URL"})
