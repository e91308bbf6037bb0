"""Configured policies, in one place: who may be reached, how many, and where links may point.

A policy refuses a call outright, whatever anyone confirms. It is evaluated on what the call will
actually do (a plan's resolved recipients and every URL it carries), so it covers every sending
path alike: messages, schedules, campaigns (every selector), resume_campaign, statuses, webhooks.

- `MSGFLASH_RECIPIENT_ALLOWLIST`: every recipient number must be on it. Fails closed: when a call
  reaches more people than it can name (a selector whose numbers were not resolved), it is refused.
- `MSGFLASH_MAX_RECIPIENTS`: the exact recipient count may not exceed it.
- Statuses are a broadcast to everyone who has the sending number: refused while a recipient
  allow-list is set, unless `MSGFLASH_ALLOW_STATUSES=1` says statuses are fine anyway.
- `MSGFLASH_URL_ALLOWLIST`: every link (content, media, buttons, webhooks) must point to an allowed
  domain or one of its subdomains.

URLs are read the way browsers and Node read them (the WHATWG URL standard, through `ada-url`), so
`https://evil.example\\.shop.example/hook` is host evil.example, as a phone will open it, not
shop.example as `urllib` says. Links without a scheme (`evil.example/login`, which WhatsApp makes
clickable) are found by `linkify-it-py` with the full list of top-level domains from the public
suffix list, plus the reserved names (example, test, ...) that only test setups use.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.settings import ConfirmMode

if TYPE_CHECKING:
    from linkify_it import LinkifyIt

# RFC 2606 / 6761 special-use names: not in the public suffix list, but links to them are still links.
_RESERVED_TLDS = ("example", "test", "invalid", "localhost", "local", "onion", "internal")
_WEB_SCHEMES = ("http", "https")
_TRAILING = ".,;:!?)]}'\"»”’"
# Written `http:evil.example/x`, `https:/evil.example/x` or `https:\\evil.example`, a special scheme needs
# no `//`: WHATWG parsers (browsers, Node) supply it and open evil.example.
_SPECIAL_SCHEMES = ("http", "https", "ws", "wss", "ftp")
_SLASHLESS = re.compile(r"(?<![A-Za-z0-9+.-])(?:" + "|".join(_SPECIAL_SCHEMES) + r"):(?!//)[/\\]*(?=[^\s/\\])", re.I)
# Schemes `parse_url` reads as written; anything else without `://` is a bare host, read as http://.
_SCHEMED = re.compile(r"(?:" + "|".join(_SPECIAL_SCHEMES) + r"|javascript|data|file|blob):", re.I)
# Dots IDNA maps to '.' in a host (UTS #46): `evil．example` opens evil.example. Finding links reads them
# as '.', so linkify sees the host a phone opens.
_WIDE_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
# A template placeholder is filled when the message renders: `{{contact.name}}`, `{{custom.link}}` and
# `{{user.email}}` are not hosts (.name, .link, .email are top-level domains). Each is read as one opaque
# label, so a link built around one (`https://{{custom.host}}/pay`) is still found, with a host no
# allow-list names: refused, since nobody can say where it will point.
_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")
PLACEHOLDER_LABEL = "placeholder"


@dataclass(frozen=True)
class GuardPolicy:
    """What the guard enforces, read from Settings once when the runtime is made (runtime.guard_policy):
    how a confirmation is asked, whether anything may act, and the policies below. The guard is given
    this, never Settings, so it knows nothing else of the configuration."""

    confirm: ConfirmMode = ConfirmMode.AUTO  # MSGFLASH_CONFIRM
    dry_run: bool = False  # MSGFLASH_DRY_RUN: plans are shown, nothing mutating is sent
    recipient_allowlist: tuple[str, ...] | None = None  # MSGFLASH_RECIPIENT_ALLOWLIST
    max_recipients: int | None = None  # MSGFLASH_MAX_RECIPIENTS
    allow_statuses: bool = False  # MSGFLASH_ALLOW_STATUSES
    url_allowlist: tuple[str, ...] | None = None  # MSGFLASH_URL_ALLOWLIST


@dataclass(frozen=True)
class ParsedUrl:
    scheme: str  # without ':'
    host: str  # WHATWG host: lowercase, punycode, IPs canonical; '' when the URL has none


def _digits(number: str) -> str:
    """A phone number as its digits only: '+33 6 12-34' and '33612 34' are one recipient."""
    return "".join(ch for ch in number if ch.isdigit())


def parse_url(url: str) -> ParsedUrl | None:
    """Parse as a browser would; a link written without a scheme is read as http://, like WhatsApp does.

    None when it is not a URL at all.
    """
    from ada_url import URL

    text = url.strip()
    if text.lower().startswith("mailto:"):
        domain = text[7:].split("?", 1)[0].rpartition("@")[2]
        parsed = parse_url("http://" + domain) if domain else None
        return ParsedUrl("mailto", parsed.host) if parsed else None
    if "://" not in text and not _SCHEMED.match(text):
        text = "http://" + text
    try:
        parsed = URL(text)
    except ValueError:
        return None
    return ParsedUrl(parsed.protocol.rstrip(":").lower(), parsed.hostname.rstrip(".").lower())


@functools.cache
def _tlds() -> tuple[str, ...]:
    """Every ICANN top-level label in the public suffix list the `publicsuffixlist` package ships."""
    import publicsuffixlist

    labels: set[str] = set(_RESERVED_TLDS)
    with open(publicsuffixlist.PSLFILE, encoding="utf-8") as rules:
        for line in rules:
            line = line.strip()
            if "===END ICANN DOMAINS===" in line:
                break
            if line and not line.startswith("//"):
                labels.add(line.lstrip("!*.").rsplit(".", 1)[-1].lower())
    return tuple(sorted(labels))


@functools.cache
def _linkifier() -> LinkifyIt:
    from linkify_it import LinkifyIt

    # fuzzy_ip: a bare 10.0.0.1/admin is as clickable as a name.
    return LinkifyIt(options={"fuzzy_ip": True}).tlds(list(_tlds()), False)


def urls_in_text(*texts: str | None) -> list[str]:
    """Every link in free text, as written (trailing punctuation trimmed), in order, once.

    Catches what a chat client would make clickable: `https://...`, `www.x.shop`, `evil.example/login`,
    e-mail addresses (never a template placeholder such as `{{contact.name}}`: see _PLACEHOLDER), `http:evil.example` (a special scheme needs no `//`), hosts written with full-width
    or ideographic dots, and any `scheme://` token linkify would cut short (a backslash ends its match,
    while a browser reads `https://evil.example\\.shop.example` as host evil.example: the whole token
    is kept so the parser sees what a browser sees).
    """
    found: list[str] = []

    def add(link: str) -> None:
        link = link.rstrip(_TRAILING)
        if link and link not in found:
            found.append(link)

    for text in texts:
        if not text:
            continue
        text = _PLACEHOLDER.sub(PLACEHOLDER_LABEL, text.translate(_WIDE_DOTS))
        for token in text.split():
            if "://" in token and token.rstrip(_TRAILING).index("://") + 3 < len(token.rstrip(_TRAILING)):
                add(token[token.index("://") - _scheme_length(token) :])
            for slashless in _SLASHLESS.finditer(token):
                add(token[slashless.start() :])
        linkify = _linkifier()
        if linkify.pretest(text):
            for match in linkify.match(text) or []:
                add(match.url if match.schema == "mailto:" else match.raw)
    return found


def _scheme_length(token: str) -> int:
    """How many letters before '://' in `token` form its scheme (so '(https://x' yields 'https://x')."""
    end = token.index("://")
    start = end
    while start > 0 and (token[start - 1].isalnum() or token[start - 1] in "+-."):
        start -= 1
    return end - start


def _allowed_hosts(allowlist: Iterable[str]) -> list[str]:
    hosts: list[str] = []
    for entry in allowlist:
        entry = entry.strip().removeprefix("*.")
        parsed = parse_url(entry) if entry else None
        if parsed and parsed.host:
            hosts.append(parsed.host)
    return hosts


def url_allowed(url: str, allowlist: Iterable[str]) -> bool:
    """An http(s) (or mailto) link whose WHATWG host is an allow-listed domain or a subdomain of one."""
    parsed = parse_url(url)
    if parsed is None or parsed.scheme not in (*_WEB_SCHEMES, "mailto") or not parsed.host:
        return False
    return any(parsed.host == host or parsed.host.endswith("." + host) for host in _allowed_hosts(allowlist))


def _shown(url: str) -> str:
    """A refused link as the person should read it: what they wrote, and the host a browser would open."""
    from ..untrusted import quote_untrusted

    parsed = parse_url(url)
    host = f" (host {parsed.host})" if parsed and parsed.host else ""
    return quote_untrusted(url, 120) + host


def policy_problem(
    numbers: Iterable[str], count: int | None, urls: Iterable[str], *, tool: str, policy: GuardPolicy,
    broadcast: bool = False,
) -> str | None:
    """Why the configured policies refuse this call outright, or None.

    `numbers`: every recipient number the call reaches, as resolved; `count`: how many recipients
    in total (None when the call has no recipients, e.g. a webhook); `urls`: every link it carries;
    `broadcast`: the tool reaches everyone who has the sending number (declared on the tool, ToolSpec.broadcast).
    """
    numbers = list(numbers)
    reach = count if count is not None else (len({_digits(n) for n in numbers}) or None)
    if broadcast and policy.recipient_allowlist is not None and not policy.allow_statuses:
        return (
            f"{tool} broadcasts to everyone who has the sending number, and MSGFLASH_RECIPIENT_ALLOWLIST is set; "
            "set MSGFLASH_ALLOW_STATUSES=1 in the server's environment to allow statuses anyway"
        )
    if policy.max_recipients is not None and reach is not None and reach > policy.max_recipients:
        return (
            f"this would reach {reach} recipients; the configured cap per confirmation is "
            f"{policy.max_recipients} (MSGFLASH_MAX_RECIPIENTS). Narrow the recipients."
        )
    if policy.recipient_allowlist is not None and not broadcast:
        allowed = {_digits(n) for n in policy.recipient_allowlist}
        outside = sorted({n for n in numbers if _digits(n) not in allowed})
        if outside:
            shown = ", ".join(outside[:10]) + (f" and {len(outside) - 10} more" if len(outside) > 10 else "")
            return f"recipient(s) {shown} are not in MSGFLASH_RECIPIENT_ALLOWLIST"
        named = len({_digits(n) for n in numbers})
        if reach is not None and reach > named:
            return (
                f"this reaches {reach} recipients but only {named} of their numbers could be checked against "
                "MSGFLASH_RECIPIENT_ALLOWLIST; name the recipients explicitly"
            )
    if policy.url_allowlist is not None:
        outside = [u for u in dict.fromkeys(urls) if u and not url_allowed(u, policy.url_allowlist)]
        if outside:
            return f"link(s) {', '.join(_shown(u) for u in outside[:5])} point outside MSGFLASH_URL_ALLOWLIST"
    return None


def view_policy_problem(view: Mapping[str, Any], policy: GuardPolicy, *, broadcast: bool = False) -> str | None:
    """`policy_problem` over a plan's JSON view (PLAN_SHAPE.md): who.numbers / who.count, and every URL
    in what.links, what.media, what.buttons[].target and a top-level `urls` list (webhooks)."""
    who: Mapping[str, Any] = view.get("who") or {}
    what: Mapping[str, Any] = view.get("what") or {}
    links: list[Mapping[str, Any]] = what.get("links") or []
    buttons: list[Mapping[str, Any]] = what.get("buttons") or []
    listed: list[Any] = view.get("urls") or []
    urls: list[str] = [str(link.get("url")) for link in links if link.get("url")]
    if what.get("media"):
        urls.append(str(what["media"]))
    urls += [str(b.get("target")) for b in buttons if b.get("type") == "url" and b.get("target")]
    urls += [str(u) for u in listed]
    return policy_problem(who.get("numbers") or [], who.get("count"), urls, tool=str(view.get("tool")), policy=policy,
                          broadcast=broadcast)
