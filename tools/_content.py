"""Message content, typed: what a message, a campaign or a status carries, as one model family.

`Content` (text, media, buttons, template + variables, location, contact card) owns its checks
(`problems`), its API request fields (`body`), the links it carries (`links`) and its part of the plan
(`part`: the plan's decisive `what`). send_message, schedule_message and create_campaign build it from
their arguments (`Content.model_validate(args, from_attributes=True)`), publish_status from its own.

Free-text fields have a length limit, checked at the edge before any request (the types below `LIMITS`): the
reference's where it gives one (text: 1-4096, REFERENCE §7.1), otherwise inferred(content-lengths),
the same numbers the sandbox enforces (tests/contract/test_content_limits.py keeps them in step).
The limits are not in the JSON schema: the catalogue's token budget is shared by every tool
(tests/contract/test_footprint.py), and the error names the field and the limit.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from ..server.guard.policy import urls_in_text
from ..server.untrusted import one_line
from ..server.wire import camel, snake
from ._types import ContactId, Phone, TemplateId, Url

MEDIA_TYPES = ("image", "video", "audio", "voice_note", "document")
CAPTION_TYPES = ("image", "video", "document")
MessageType = Literal["text", "image", "video", "audio", "document", "voice_note", "location", "contact", "buttons"]

# ------------------------------------------------------------------------------- length limits

# Characters allowed per free-text field, by the API's field name. `text` is the reference's (§7.1);
# the others are inferred(content-lengths): the reference names the fields without a limit.
LIMITS: dict[str, int] = {
    "text": 4096,
    "description": 4096,
    "title": 1024,
    "footer": 1024,
    "locationName": 1024,
    "locationAddress": 1024,
    "displayText": 256,
    "id": 256,
    "copyCode": 1024,
    "name": 256,
    "key": 256,
}


def _at_most(limit: int) -> Any:
    def check(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"allows at most {limit} characters ({len(value)} given); shorten it")
        return value

    return AfterValidator(check)


# Free-text strings capped at their LIMITS entry, without touching the JSON schema.
Text = Annotated[str, _at_most(LIMITS["text"])]
Description = Annotated[str, _at_most(LIMITS["description"])]
Title = Annotated[str, _at_most(LIMITS["title"])]
Footer = Annotated[str, _at_most(LIMITS["footer"])]
PlaceName = Annotated[str, _at_most(LIMITS["locationName"])]
PlaceAddress = Annotated[str, _at_most(LIMITS["locationAddress"])]
DisplayText = Annotated[str, _at_most(LIMITS["displayText"])]
ReplyId = Annotated[str, _at_most(LIMITS["id"])]
CopyCode = Annotated[str, _at_most(LIMITS["copyCode"])]
PayeeName = Annotated[str, _at_most(LIMITS["name"])]
PixKey = Annotated[str, _at_most(LIMITS["key"])]


# ---------------------------------------------------------------------------------------- buttons

# What a Pix key can be (inferred(pix-key-type): §19.4 gives `random` as an example; the Pix scheme,
# as the upstream Evolution API, knows these five).
PixKeyType = Literal["phone", "email", "cpf", "cnpj", "random"]


class _Button(BaseModel):
    """One button of a buttons message; each kind is its own model, so its fields are exactly the reference's."""

    # Built by the first message with buttons (or a stored one read back), not at start-up: listing tools
    # reads only their field names (`_buttons_schema`).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    def to_api(self) -> dict[str, Any]:
        """The API's camelCase object (REFERENCE §19.4), kind first."""
        return {camel(name): value for name, value in self.model_dump(exclude_none=True).items()}

    def link(self) -> str | None:
        """The web link this button opens, if any (previews list every link a message carries)."""
        return None

    def label(self) -> str:
        """What the recipient reads on the button."""
        raise NotImplementedError

    def target(self) -> str:
        """What the button does when pressed, in words: every field a person must judge."""
        raise NotImplementedError

    def part(self) -> dict[str, str]:
        """The button in the plan (decisive) and on the review card: kind, label, target."""
        return {"type": self.kind(), "label": self.label(), "target": self.target()}

    @classmethod
    def kind(cls) -> str:
        """The `type` value that selects this model."""
        return get_args(cls.model_fields["type"].annotation)[0]


class ReplyButton(_Button):
    type: Literal["reply"]
    display_text: DisplayText
    id: ReplyId

    def label(self) -> str:
        return self.display_text

    def target(self) -> str:
        return f"reply {self.id}"


class UrlButton(_Button):
    type: Literal["url"]
    display_text: DisplayText
    url: str  # checked in Content.problems, with the index of the button

    def link(self) -> str | None:
        return self.url

    def label(self) -> str:
        return self.display_text

    def target(self) -> str:
        return self.url


class CallButton(_Button):
    type: Literal["call"]
    display_text: DisplayText
    phone_number: str  # checked in Content.problems, with the index of the button

    def label(self) -> str:
        return self.display_text

    def target(self) -> str:
        return f"call {self.phone_number}"


class CopyButton(_Button):
    type: Literal["copy"]
    display_text: DisplayText
    copy_code: CopyCode

    def label(self) -> str:
        return self.display_text

    def target(self) -> str:
        return f"copy {self.copy_code}"


class PixButton(_Button):
    """A Brazilian Pix payment button. It carries the payee's key only, no amount: the payer types the
    amount in their bank app. No display_text either: WhatsApp draws its own."""

    type: Literal["pix"]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    name: PayeeName
    key_type: PixKeyType
    key: PixKey

    def label(self) -> str:
        return self.name

    def target(self) -> str:
        return f"pay by Pix to {self.key_type} key {self.key} ({self.currency}, no amount)"


BUTTON_KINDS: tuple[type[_Button], ...] = (ReplyButton, UrlButton, CallButton, CopyButton, PixButton)
Button = Annotated[ReplyButton | UrlButton | CallButton | CopyButton | PixButton, Field(discriminator="type")]
_API_BUTTON: TypeAdapter[ReplyButton | UrlButton | CallButton | CopyButton | PixButton] = TypeAdapter(
    Button, config=ConfigDict(defer_build=True)
)


def stored_button(button: dict[str, Any]) -> dict[str, Any]:
    """A button as the API stores it (camelCase), in the plan's words; read back as the model when it
    is one, else shown as given so nothing a person must judge is hidden."""
    try:
        return _API_BUTTON.validate_python({snake(k): v for k, v in button.items()}).part()
    except ValidationError:
        fields = ", ".join(f"{k}={v}" for k, v in button.items() if k != "type")
        return {"type": str(button.get("type")), "label": one_line(fields, 120), "target": one_line(fields, 200)}


def _buttons_schema() -> dict[str, Any]:
    """What the model reads for `buttons`: each kind's fields, derived from the models above.

    The models validate strictly (one per kind, unknown fields refused). A oneOf of the five objects
    would cost ~125 more tokens over the three sending tools, and the catalogue's budget is shared by
    every tool (tests/contract/test_footprint.py); this states the same rule in a sentence.
    """

    def fields(model: type[_Button]) -> str:
        names = [name for name in model.model_fields if name not in ("type", "display_text")]
        if model is PixButton:
            names = [f"key_type ({'|'.join(get_args(PixKeyType))})" if n == "key_type" else n for n in names]
            return ", ".join(names) + "; no display_text, no amount"
        return ", ".join(names)

    kinds = " | ".join(f"{model.kind()}: {fields(model)}" for model in BUTTON_KINDS)
    return {
        "type": "array",
        "minItems": 1,
        "maxItems": 2,
        "description": f"type=buttons. Each: type, display_text, and {kinds}",
        "items": {"type": "object", "required": ["type"], "additionalProperties": {"type": "string"}},
    }


# ------------------------------------------------------------------- argument types (shared)

TypeArg = Annotated[MessageType | None, Field(description="Content type, or use template_id")]
TemplateArg = Annotated[TemplateId | None, Field(description="Template instead of type")]
TextArg = Annotated[str | None, Field(min_length=1, max_length=4096, description="Text (type=text) or caption")]
MediaArg = Annotated[Url | None, Field(description="Media URL (media types)")]
LatArg = Annotated[float | None, Field(ge=-90, le=90, description="type=location")]
LonArg = Annotated[float | None, Field(ge=-180, le=180, description="type=location")]
PlaceNameArg = Annotated[PlaceName | None, Field(description="type=location")]
PlaceAddressArg = Annotated[PlaceAddress | None, Field(description="type=location")]
ContactArg = Annotated[ContactId | None, Field(description="Shared card (type=contact) or template context")]
# Numbers too, as the API and preview_template take them ({"amount": 49.9}); strict, so `true` is refused
# rather than sent as 1. The schema says "string or number" in the fewest tokens.
Variables = dict[str, str | StrictInt | StrictFloat]
VariablesArg = Annotated[
    Variables | None,
    WithJsonSchema({
        "type": "object",
        "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "number"}]},  # a type list fails strict linters
        "description": "custom.* values by name",
    }),
]
TitleArg = Annotated[Title | None, Field(description="type=buttons")]
DescriptionArg = Annotated[Description | None, Field(description="type=buttons")]
FooterArg = Annotated[Footer | None, Field(description="type=buttons")]
ButtonsArg = Annotated[list[Button] | None, Field(min_length=1, max_length=2), WithJsonSchema(_buttons_schema())]


# ------------------------------------------------------------------------------------ content

_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HTTP_URL = re.compile(r"^https?://\S{1,2040}$", re.IGNORECASE)
_PHONE: TypeAdapter[str] = TypeAdapter(Phone, config=ConfigDict(defer_build=True))  # built by its first use


def _is_phone(value: str) -> bool:
    try:
        _PHONE.validate_python(value)
    except ValidationError:
        return False
    return True


# Which content fields each direct type needs and accepts (REFERENCE §7.1, §8.1, §19.4).
_NEEDS: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    **dict.fromkeys(MEDIA_TYPES, ("media_url",)),
    "location": ("latitude", "longitude"),
    "contact": ("contact_id",),
    "buttons": ("title", "description", "buttons"),
}
_ACCEPTS: dict[str, tuple[str, ...]] = {
    **_NEEDS,
    **dict.fromkeys(CAPTION_TYPES, ("media_url", "text")),
    "location": ("latitude", "longitude", "location_name", "location_address"),
    "buttons": ("title", "description", "footer", "buttons"),
}
_CONTENT = (
    "text",
    "media_url",
    "latitude",
    "longitude",
    "location_name",
    "location_address",
    "contact_id",
    "title",
    "description",
    "footer",
    "buttons",
)
# The model-facing names of the API's fields (`text` is `body` on campaigns: `body(text_key=)`).
_API_NAMES = {
    "type": "type",
    "template_id": "templateId",
    "media_url": "mediaUrl",
    "latitude": "latitude",
    "longitude": "longitude",
    "location_name": "locationName",
    "location_address": "locationAddress",
    "contact_id": "contactId",
    "variables": "variables",
    "title": "title",
    "description": "description",
    "footer": "footer",
}


class Content(BaseModel):
    """What recipients get: a direct type with its fields, or a template with its variables.

    Built from a tool's validated arguments (`from_attributes`: campaigns call the text `body`), so
    its fields are already checked one by one; `problems()` checks how they combine.
    """

    # Built by the first call that sends content: no tool schema names it, so listing tools never needs it.
    model_config = ConfigDict(frozen=True, defer_build=True)

    type: MessageType | None = None
    template_id: str | None = None
    text: str | None = Field(default=None, validation_alias=AliasChoices("text", "body"))
    media_url: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    location_name: str | None = None
    location_address: str | None = None
    contact_id: str | None = None
    variables: Variables | None = None
    title: str | None = None
    description: str | None = None
    footer: str | None = None
    buttons: tuple[ReplyButton | UrlButton | CallButton | CopyButton | PixButton, ...] | None = None

    def problems(self, *, text_name: str = "text", allow_contact_context: bool = True) -> list[str]:
        """What is wrong with the selection (direct type XOR template), phrased as what to change.

        `text_name` is how the text field is called for this tool (campaigns call it `body`)."""
        problems: list[str] = []
        given = {name for name in (*_CONTENT, "variables") if getattr(self, name) is not None}

        def shown(name: str) -> str:
            return text_name if name == "text" else name

        if self.type and self.template_id:
            problems.append("pass either type or template_id, not both")
        elif not self.type and not self.template_id:
            problems.append("pass type (direct content) or template_id (a saved template)")
        elif self.template_id:
            allowed = {"variables", "contact_id"} if allow_contact_context else {"variables"}
            extra = sorted(given - allowed, key=_CONTENT.index)
            if extra:
                problems.append(
                    f"{', '.join(map(shown, extra))} cannot be combined with template_id (the template supplies "
                    "the content); remove them"
                )
        elif self.type:
            needed = [name for name in _NEEDS[self.type] if name not in given]
            if needed:
                problems.append(f"type={self.type} needs {' and '.join(map(shown, needed))}")
            extra = sorted(given - set(_ACCEPTS[self.type]) - {"variables"}, key=_CONTENT.index)
            if extra:
                hint = "; put the message text in description" if self.type == "buttons" and "text" in extra else ""
                problems.append(f"{', '.join(map(shown, extra))} not used with type={self.type}; remove them{hint}")
            if "variables" in given:
                problems.append("variables only apply with template_id; remove them or use a template")
        bad = [name for name in self.variables or {} if not _VAR_NAME.match(name)]
        if bad:
            problems.append(
                f"variables keys are custom.* names without the prefix (letters, digits, _): fix {', '.join(bad[:5])}"
            )
        # Which fields each kind needs is checked by the button models; here only what a schema can't say.
        for i, button in enumerate(self.buttons or ()):
            if isinstance(button, UrlButton) and not _HTTP_URL.match(button.url):
                problems.append(f"buttons[{i}].url must be a public http(s) URL")
            if isinstance(button, CallButton) and not _is_phone(button.phone_number):
                problems.append(f"buttons[{i}].phone_number must be E.164, e.g. +33612345678")
        return problems

    def body(self, *, text_key: str = "text") -> dict[str, Any]:
        """The API's camelCase content fields (None dropped)."""
        out = {api: getattr(self, name) for name, api in _API_NAMES.items() if getattr(self, name) is not None}
        if self.text is not None:
            out[text_key] = self.text
        if self.buttons:
            out["buttons"] = [button.to_api() for button in self.buttons]
        return out

    @property
    def shown_text(self) -> str | None:
        """The message text recipients read (a buttons message's is its description)."""
        return self.description if self.type == "buttons" else self.text

    def links(self) -> list[str]:
        """Every link the content carries, in order, once: media, button targets, links in free text."""
        found = [self.media_url, *(button.link() for button in self.buttons or ())]
        found += urls_in_text(
            self.text, self.title, self.description, self.footer, self.location_name, self.location_address
        )
        return list(dict.fromkeys(url for url in found if url))

    def part(
        self, *, rendered: Rendered | None = None, card: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The plan's `what`: exactly what recipients get, every field decisive (in the digest): the text
        (a template's as the API rendered it), media, each button's target, the place, the card's number."""
        location = None
        if self.type == "location":
            location = {
                "latitude": self.latitude,
                "longitude": self.longitude,
                "name": self.location_name,
                "address": self.location_address,
            }
        return {
            "type": self.type or "template",
            "template_id": self.template_id,
            "template": rendered.name if rendered else None,
            "text": rendered.text if rendered else self.shown_text,
            "title": self.title,
            "footer": self.footer,
            "media": self.media_url or (rendered.media if rendered else None),
            "buttons": [button.part() for button in self.buttons] if self.buttons else None,
            "location": location,
            "card": card,
            "variables": self.variables,
        }


class Rendered(BaseModel):
    """A template as the API's preview route rendered it (REFERENCE §9.5)."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # built by the first preview, not at start-up

    name: str  # "Bienvenue (text)"
    text: str | None
    media: str | None
    variables: tuple[str, ...]  # the placeholders the template uses
    missing: tuple[str, ...]  # placeholders the render could not fill


def refuse(problems: list[str]) -> None:
    """Raise the readable validation error of a call that must not reach the API."""
    if problems:
        raise ToolError("Invalid arguments, nothing was sent: " + "; ".join(problems) + ".")
