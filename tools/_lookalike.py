"""Links that pretend: a host imitating the account's own, or a link whose visible text names another host.

Deterministic string rules, no network: a host is compared with the account's known domains (MsgFlash's
own, the API's, the URL allow-list's) label by label after undoing punycode, accents and the common
confusable letters, so `msgflash.com.suivi-colis.example`, `msgflash-billing.example.net`,
`xn--msgflsh-…` (Cyrillic а) and `msgf1ash.com` all read as imitations of msgflash.com, while
msgflash.com and its subdomains do not.
"""

from __future__ import annotations

import contextlib
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from ..server.guard.policy import parse_url, urls_in_text

OWN_DOMAIN = "msgflash.com"  # the product's own domain: what a phisher imitates first

# Letters that render like Latin ones (Cyrillic, Greek) and digit swaps; a skeleton, not UTS #39 in full.
_CONFUSABLE = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
    "һ": "h", "ԁ": "d", "ӏ": "l", "ɡ": "g", "α": "a", "ο": "o", "ν": "v", "ρ": "p", "τ": "t", "κ": "k",
    "ι": "i", "0": "o", "1": "l", "3": "e", "5": "s", "$": "s", "-": "", "_": "",
})
# Markdown [text](url) and HTML <a href="url">text</a>: where a message can show one host and open another.
_MARKDOWN = re.compile(r"\[([^\]]{1,200})\]\(([^)\s]{1,2000})\)")
_ANCHOR = re.compile(r"<a\s[^>]*href=[\"']?([^\"'\s>]{1,2000})[^>]*>(.{1,200}?)</a>", re.IGNORECASE | re.DOTALL)


@functools.cache
def _suffixes() -> object:
    import publicsuffixlist

    return publicsuffixlist.PublicSuffixList()


def domain_of(host: str) -> str:
    """The registrable domain of a host (`srv.msgflash.com` -> `msgflash.com`); the host itself when it has none."""
    found = _suffixes().privatesuffix(host)  # type: ignore[attr-defined]
    return str(found) if found else host


def host_of(url: str) -> str | None:
    parsed = parse_url(url)
    return parsed.host if parsed and parsed.host else None


def own_domains(base_url: str, allowlist: Iterable[str] | None) -> tuple[str, ...]:
    """The domains whose links are the account's own: MsgFlash's, the API's, and the URL allow-list's."""
    hosts = [host_of(base_url), *(host_of(entry.strip().removeprefix("*.")) for entry in allowlist or ())]
    domains = {OWN_DOMAIN, *(domain_of(host) for host in hosts if host and "." in host)}
    return tuple(sorted(domains))


def skeleton(label: str) -> str:
    """How a host label reads to a person: punycode decoded, accents and confusables folded, hyphens dropped."""
    if label.startswith("xn--"):
        with contextlib.suppress(UnicodeError):
            label = label.encode("ascii").decode("idna")
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", label.casefold()) if not unicodedata.combining(ch))
    return folded.translate(_CONFUSABLE).replace("rn", "m").replace("vv", "w")


def _near(a: str, b: str) -> bool:
    """Within one edit (two for names of 8+ letters): `msgflesh` is near `msgflash`."""
    allowed = 2 if len(b) >= 8 else 1
    if abs(len(a) - len(b)) > allowed:
        return False
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1] <= allowed


def imitated(host: str, domains: Iterable[str]) -> str | None:
    """The known domain `host` imitates, or None (a known domain and its subdomains imitate nothing)."""
    domains = tuple(domains)
    if any(host == d or host.endswith("." + d) for d in domains):
        return None
    labels = [skeleton(label) for label in host.split(".")]
    for domain in domains:
        brand = skeleton(domain.split(".")[0])
        if len(brand) < 4:  # too short to tell an imitation from a coincidence
            continue
        if any(brand in label or _near(label, brand) for label in labels):
            return domain
    return None


@dataclass(frozen=True)
class Mismatch:
    shown: str  # the host the visible text names
    opens: str  # the host the link opens


def mismatched_links(text: str) -> list[Mismatch]:
    """Links whose visible text names a host of another domain than the one they open."""
    out: list[Mismatch] = []
    pairs = [(m.group(1), m.group(2)) for m in _MARKDOWN.finditer(text)]
    pairs += [(m.group(2), m.group(1)) for m in _ANCHOR.finditer(text)]
    for shown_text, target in pairs:
        opens = host_of(target)
        shown = next((h for h in map(host_of, urls_in_text(shown_text)) if h), None)
        if opens and shown and domain_of(shown) != domain_of(opens):
            out.append(Mismatch(shown, opens))
    return out
