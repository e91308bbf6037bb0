"""Inbound messages a model can triage: selected over the API's pages, named, and flagged.

The API lists messages only by instance and status (REFERENCE §7.3), so sender, time window and
"unanswered" are selected here: pages are read newest first through the shared limiter, at most
MAX_PAGES of them, and the result says when that bound cut the reading short.

Each inbound message is shown with the sender's contact name (one contact lookup per distinct
sender), the outbound message it answers (`replyTo`, inferred(inbound-reply-to)) and deterministic
safety flags: what the model should warn the person about. The text itself stays data: results keep
the untrusted-content note, and summaries quote it. `is_opt_out` is the one opt-out rule, and
`inbound_risks` tells a send preview when it relays a flagged message's text or links.
"""

from __future__ import annotations

import contextlib
import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from ..server.api import Api
from ..server.call.context import CallContext
from ..server.core.errors import MsgFlashError
from ..server.guard.policy import urls_in_text
from ..server.untrusted import clean_text, quote_untrusted
from ._lookalike import host_of, imitated, mismatched_links, own_domains
from ._routes import CONTACTS, MESSAGE, MESSAGES
from .contacts import CONTACT

PAGE_SIZE = 100  # the API's largest message page (inferred(message-list-limit))
MAX_PAGES = 10  # a bound on one call's reading: 1,000 messages
MAX_SENDER_LOOKUPS = 25  # contact searches per call; senders beyond it are shown without a name
RISK_PAGE = 100  # recent inbound messages a send preview compares its content with (one request)

# ------------------------------------------------------------------------------------------ flags

INSTRUCTIONS = "assistant_instructions"
HIDDEN = "hidden_text"
LINK_MISMATCH = "link_mismatch"
LOOKALIKE = "lookalike_link"
ATTACHMENT = "risky_attachment"
NOT_A_CONTACT = "not_a_contact"
OPT_OUT = "opt_out"
# Flags about the content itself: a send that repeats such a message's text or links relays the risk.
CONTENT_FLAGS = (INSTRUCTIONS, HIDDEN, LINK_MISMATCH, LOOKALIKE, ATTACHMENT)

_INSTRUCTION_PATTERNS = (
    r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}\b(?:instructions?|prompts?|rules|directives|guidelines)\b",
    r"\b(?:ignore[rz]?|oublie[rz]?)\b.{0,40}\b(?:instructions?|consignes?|r[eè]gles)\b",
    r"(?:^|[\s\"'(\[])(?:system|assistant|developer)\s*:",
    r"\b(?:you are now|act as|pretend to be|as an?)\b.{0,25}\b(?:assistant|ai|chatbot|language model|agent)\b",
    r"<\|?(?:im_start|im_end|system)\|?>|\[/?(?:INST|SYS)\]",
    r"\b(?:send|forward|export|delete|share)\b.{0,60}\b(?:all|every|tous|toutes)\b.{0,20}"
    r"\b(?:contacts?|messages?|conversations?|customers?|clients?)\b",
    r"\b(?:do not|don't|never)\s+(?:tell|inform|mention|show)\b.{0,20}\b(?:user|owner|human|person)\b",
    r"\b(?:call|use|run)\s+the\s+(?:tool|function)\b",
)
# Files that run code or hide other files; `.com` is left out, it names domains far more often.
_RISKY_FILE_PATTERN = r"[\w\-]+\.(?:exe|scr|bat|cmd|msi|apk|jar|js|vbs|ps1|dll|lnk|hta|iso|img|zip|rar|7z|tar|gz|tgz|cab)\b"


# Compiled by the first inbound message scanned, not at start-up (the instructions pattern alone is ~1.5 ms).
@functools.cache
def _instructions() -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in _INSTRUCTION_PATTERNS), re.IGNORECASE | re.DOTALL)


@functools.cache
def _risky_file() -> re.Pattern[str]:
    return re.compile(_RISKY_FILE_PATTERN, re.IGNORECASE)

# Opt-out words in English, French, Portuguese and Spanish, accents folded. A strong word opts out in a
# short message ("stop please", "desabonner svp"); a weak one only alone ("cancelar" alone, never
# "quero cancelar o pedido", which cancels an order).
_STRONG_OPT_OUT = frozenset({
    "stop", "stopall", "unsubscribe", "optout", "desabonner", "desinscrire", "desabonnement", "desinscription",
    "baja", "descadastrar", "descadastre",
})
_WEAK_OPT_OUT = frozenset({
    "end", "quit", "cancel", "arret", "arreter", "arrete", "parar", "pare", "sair", "cancelar", "remover",
})
_OPT_OUT_PHRASES = ("opt out", "dar de baja", "darme de baja", "me desabonner", "se desabonner", "me desinscrire")
_SHORT = 4  # words: longer messages mention the word rather than use it


def _words(text: str) -> list[str]:
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(ch))
    return re.findall(r"[a-z0-9]+", folded)


def is_opt_out(text: str | None) -> bool:
    """Whether a message asks to receive no more messages (STOP, UNSUBSCRIBE, ARRÊT, DÉSABONNER, PARAR,
    SAIR, CANCELAR, BAJA...): the one rule, shared by the inbound flags and the opt-out list."""
    words = _words(clean_text(text or ""))
    if not words or len(words) > _SHORT:
        return False
    if len(words) == 1 and words[0] in _WEAK_OPT_OUT:
        return True
    joined = " ".join(words)
    return any(word in _STRONG_OPT_OUT for word in words) or any(p in joined for p in _OPT_OUT_PHRASES)


def content_flags(body: str | None, media_url: str | None, domains: Sequence[str]) -> list[str]:
    """What to warn about in one message's own content, in a fixed order: `code` or `code: detail`."""
    raw = unicodedata.normalize("NFC", body or "")  # composed accents are not hidden characters
    text = clean_text(raw)
    flags: list[str] = []
    if _instructions().search(text):
        flags.append(INSTRUCTIONS)
    if clean_text(raw, len(raw)) != raw:  # characters a person cannot see were removed
        flags.append(f"{HIDDEN}: invisible or direction-changing characters removed")
    flags += [f"{LINK_MISMATCH}: shows {m.shown}, opens {m.opens}" for m in mismatched_links(text)]
    for url in urls_in_text(text, media_url):
        host = host_of(url)
        domain = imitated(host, domains) if host else None
        if domain and not any(f.startswith(f"{LOOKALIKE}: {host} ") for f in flags):
            flags.append(f"{LOOKALIKE}: {host} imitates {domain}")
    files = [m.group(0) for m in _risky_file().finditer(" ".join(filter(None, (text, media_url))))]
    if files:
        flags.append(f"{ATTACHMENT}: {', '.join(dict.fromkeys(files))}")
    if is_opt_out(text):
        flags.append(OPT_OUT)
    return flags


def domains_of(call: CallContext) -> tuple[str, ...]:
    return own_domains(call.settings.base_url, call.settings.url_allowlist)


# -------------------------------------------------------------------------------------- selection


@dataclass(frozen=True)
class Selection:
    """What the model asked for; the API filters only instance and status."""

    instance_id: str | None = None
    status: str | None = None
    sender: str | None = None  # a phone number or a contact id
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    unanswered: bool = False
    limit: int = 50
    cursor: str | None = None

    @property
    def inbound_only(self) -> bool:
        return self.sender is not None or self.unanswered


@dataclass
class Scan:
    messages: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])  # selected, newest first
    read: int = 0
    pages: int = 0
    cursor: str | None = None  # the API's cursor where reading stopped at the page bound
    full: bool = False  # stopped because `limit` messages were selected
    outbound: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])  # read, by id


def _time(message: dict[str, Any]) -> datetime | None:
    """createdAt as an aware time (the API writes ISO 8601 with Z); None when absent or unreadable."""
    try:
        created = datetime.fromisoformat(str(message.get("createdAt")))
    except ValueError:
        return None
    return created if created.tzinfo else created.replace(tzinfo=UTC)


async def _sender_phone(api: Api, sender: str) -> str:
    """A contact id's phone number (inbound messages are matched on `from`); a number as given."""
    if sender.startswith("+"):
        return sender
    contact = await api.call(CONTACT, path={"id": sender})
    phone = contact.get("phone")
    if not phone:
        raise ToolError(f"contact {sender} has no phone number, so no message can come from it")
    return str(phone)


async def select(call: CallContext, sel: Selection) -> Scan:
    """Read pages newest first and keep what `sel` selects; stops at `since`, `limit` or MAX_PAGES."""
    if sel.inbound_only and sel.status not in (None, "received"):
        raise ToolError("sender and unanswered select inbound messages (status received): remove status")
    phone = await _sender_phone(call.api, sel.sender) if sel.sender else None
    # `unanswered` needs the outbound messages too; otherwise the API filters what it can.
    status = None if sel.unanswered else ("received" if sel.inbound_only else sel.status)
    answered: set[str] = set()  # numbers with an outbound message newer than the one being read
    scan, cursor = Scan(), sel.cursor
    while scan.pages < MAX_PAGES:
        page = await call.api.call(
            MESSAGES, query={"instanceId": sel.instance_id, "status": status, "limit": PAGE_SIZE, "cursor": cursor}
        )
        scan.pages += 1
        rows: list[dict[str, Any]] = page.get("messages") or []
        scan.read += len(rows)
        cursor = page.get("nextCursor")
        await call.report_progress(float(scan.pages), float(MAX_PAGES), f"read {scan.read} messages")
        for message in rows:
            inbound = message.get("direction") == "inbound"
            if not inbound:
                scan.outbound[str(message.get("id"))] = message
                if message.get("status") not in ("failed", "cancelled"):
                    answered.add(str(message.get("to")))
            created = _time(message)
            if sel.since and created and created < sel.since:
                return scan  # newest first: everything further is older
            if sel.until and created and created >= sel.until:
                continue
            if sel.inbound_only and not inbound:
                continue
            if phone and message.get("from") != phone:
                continue
            if sel.unanswered and message.get("from") in answered:
                continue
            scan.messages.append(message)
            if len(scan.messages) >= sel.limit:
                scan.full = True
                return scan
        if not cursor:
            return scan
    scan.cursor = cursor
    return scan


# ------------------------------------------------------------------------------------ the view


@dataclass
class Senders:
    """Contact names by number: one contact page read when several senders are named (small accounts
    answer everything at once), then one search per sender still unknown, at most MAX_SENDER_LOOKUPS."""

    names: dict[str, str | None] = field(default_factory=dict[str, str | None])  # None: not a contact
    skipped: int = 0

    async def look_up(self, api: Api, numbers: Iterable[str]) -> None:
        wanted = [n for n in dict.fromkeys(numbers) if n not in self.names]
        if len(wanted) > 2:
            page = await api.call(CONTACTS, query={"limit": PAGE_SIZE})
            listed = {str(c.get("phone")): str(c.get("name") or "") for c in page.get("contacts") or []}
            complete = not page.get("nextCursor")  # every contact was listed: the rest are not contacts
            for number in wanted:
                if number in listed or complete:
                    self.names[number] = listed.get(number)
            wanted = [n for n in wanted if n not in self.names]
        for number in wanted[:MAX_SENDER_LOOKUPS]:
            found = await api.call(CONTACTS, query={"search": number, "limit": 10})
            match = next((c for c in found.get("contacts") or [] if c.get("phone") == number), None)
            self.names[number] = str(match.get("name") or "") if match else None
        self.skipped += max(0, len(wanted) - MAX_SENDER_LOOKUPS)


def inbound_view(
    message: dict[str, Any], senders: Senders, domains: Sequence[str], answers: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """An inbound message as the model needs it: who (name), what, when, what it answers, and its flags.

    Provider keys, the account id, the business's own number and empty fields are left out."""
    sender = str(message.get("from") or "")
    flags = content_flags(message.get("body"), message.get("mediaUrl"), domains)
    known = sender in senders.names
    if known and senders.names[sender] is None:
        flags.insert(len(flags) - (OPT_OUT in flags), NOT_A_CONTACT)
    view: dict[str, Any] = {
        "id": message.get("id"),
        "direction": "inbound",
        "status": message.get("status"),
        "type": message.get("type"),
        "from": sender,
        "senderName": senders.names.get(sender),
        "contactId": message.get("contactId"),
        "instanceId": message.get("instanceId"),
        "body": message.get("body"),
        "createdAt": message.get("createdAt"),
        "flags": flags,
    }
    if message.get("mediaUrl"):
        view["mediaUrl"] = message["mediaUrl"]
    answered_id = message.get("replyTo")  # inferred(inbound-reply-to)
    if answered_id:
        answered = answers.get(str(answered_id))
        view["replyTo"] = {"id": answered_id, **({"body": answered.get("body")} if answered else {})}
    return view


async def show(
    call: CallContext, messages: list[dict[str, Any]], answers: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], Senders]:
    """Every inbound message of a listing in its view (sender names looked up), others as the API gave them."""
    senders = Senders()
    await senders.look_up(call.api, (str(m.get("from")) for m in messages if m.get("direction") == "inbound"))
    domains = domains_of(call)
    shown = [inbound_view(m, senders, domains, answers) if m.get("direction") == "inbound" else m for m in messages]
    return shown, senders


async def show_one(call: CallContext, message: dict[str, Any]) -> dict[str, Any]:
    """get_message's inbound view: also reads the outbound message it answers, for its text."""
    answers: dict[str, dict[str, Any]] = {}
    if message.get("replyTo"):
        # Deleted or not readable: the id alone still says what it answers.
        with contextlib.suppress(MsgFlashError):
            answers[str(message["replyTo"])] = await call.api.call(MESSAGE, path={"id": str(message["replyTo"])})
    (view,), _ = await show(call, [message], answers)
    return view


def flagged_line(views: Sequence[dict[str, Any]], limit: int = 5) -> str:
    """'flagged: +336… (not_a_contact, lookalike_link), "Awa" +336… (opt_out)'; '' when none is."""
    parts: list[str] = []
    flagged = [v for v in views if v.get("direction") == "inbound" and v.get("flags")]
    for view in flagged[:limit]:
        name = f"{quote_untrusted(view['senderName'], 30)} " if view.get("senderName") else ""
        codes = ", ".join(dict.fromkeys(flag.split(":")[0] for flag in view["flags"]))
        parts.append(f"{name}{view['from']} ({codes})")
    more = f" and {len(flagged) - limit} more" if len(flagged) > limit else ""
    return f"; flagged: {', '.join(parts)}{more}" if parts else ""


# ---------------------------------------------------------------------------- risk in previews


def _norm(text: str) -> str:
    return " ".join(_words(clean_text(text)))


def _same_text(sent: str, received: str) -> bool:
    """The sent text relays the received one: contains it, or reads the same (ratio >= 0.8)."""
    a, b = _norm(sent), _norm(received)
    if len(a) < 12 or len(b) < 12:  # "Merci !" matches too much to mean anything
        return False
    if b in a or a in b:
        return True
    from difflib import SequenceMatcher  # here, not at import: start-up never compares texts

    return SequenceMatcher(None, a, b).ratio() >= 0.8


async def inbound_risks(call: CallContext, texts: Iterable[str | None], links: Iterable[str]) -> list[str]:
    """Risk lines for a send's preview: its text matches, or its links' hosts appear in, a recent inbound
    message flagged for its content (one bounded read of the latest inbound page)."""
    texts = [t for t in texts if t]
    domains = domains_of(call)
    # The account's own hosts appear in hostile messages too (as bait beside the real link): not a signal.
    hosts = {h for h in map(host_of, [*links, *urls_in_text(*texts)]) if h}
    hosts -= {h for h in hosts if any(h == d or h.endswith("." + d) for d in domains)}
    if not texts and not hosts:
        return []
    page = await call.api.call(MESSAGES, query={"status": "received", "limit": RISK_PAGE})
    risks: list[str] = []
    for message in page.get("messages") or []:
        codes = [f.split(":")[0] for f in content_flags(message.get("body"), message.get("mediaUrl"), domains)]
        codes = [c for c in codes if c in CONTENT_FLAGS]
        if not codes:
            continue
        body = message.get("body") or ""
        source = f"a flagged inbound message from {message.get('from')} (id {message.get('id')}; {', '.join(codes)})"
        if any(_same_text(text, body) for text in texts):
            risks.append(f"this text matches {source}: it may relay phishing or an injected instruction")
        seen = {h for h in map(host_of, urls_in_text(clean_text(body), message.get("mediaUrl"))) if h}
        for host in sorted(hosts & seen):
            risks.append(f"the link host {host} appeared in {source}")
    return list(dict.fromkeys(risks))
