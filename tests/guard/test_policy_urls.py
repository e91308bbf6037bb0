"""server/guard/policy.py: links found and read as a phone would (WHATWG), and the policies on a plan's
resolved recipients, counts and URLs, whatever tool carries them."""

from __future__ import annotations

import pytest
from msgflash_mcp.server.guard.policy import (
    GuardPolicy,
    parse_url,
    policy_problem,
    url_allowed,
    urls_in_text,
    view_policy_problem,
)
from msgflash_mcp.server.runtime import guard_policy

from tests.conftest import make_settings

SHOP = ["shop.example"]


def configured(**env: object) -> GuardPolicy:
    """The guard's policy as the runtime builds it from settings configured like this."""
    return guard_policy(make_settings(**env))


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://evil.example\\.shop.example/hook", "evil.example"),  # backslash is a path separator
        ("https://shop.example@evil.example/", "evil.example"),  # userinfo
        ("https://user:pw@shop.example@evil.example/x", "evil.example"),
        ("HTTPS://Shop.Example./sale", "shop.example"),  # case, trailing dot
        ("https://пример.рф/", "xn--e1afmkfd.xn--p1ai"),  # IDNA
        ("https://0x7f.1/", "127.0.0.1"),  # IPv4 forms browsers accept
        ("evil.example/login", "evil.example"),  # no scheme: read as http://
        ("https://evil.example%2eshop.example/", "evil.example.shop.example"),
    ],
)
def test_hosts_are_the_ones_a_browser_opens(url: str, host: str) -> None:
    parsed = parse_url(url)
    assert parsed is not None and parsed.host == host


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example\\.shop.example/hook",
        "https://shop.example@evil.example/",
        "https://shop.example.evil.example/",
        "https://evilshop.example/",
        "evil.example/login",
        "javascript:alert(1)",
        "ftp://shop.example/file",
        "data:text/html,hi",
        "https:// shop.example",
    ],
)
def test_allowlist_refuses_what_leaves_the_allowed_domain(url: str) -> None:
    assert not url_allowed(url, SHOP)


@pytest.mark.parametrize(
    "url",
    ["https://shop.example/sale", "http://www.shop.example", "shop.example/x", "mailto:help@shop.example",
     "https://SHOP.example./a?b=c#d", "https://cdn.shop.example/banner.jpg",
     "https://evil.example%2eshop.example/"],  # percent-decoded: a subdomain of shop.example after all
)
def test_allowlist_accepts_the_domain_and_its_subdomains(url: str) -> None:
    assert url_allowed(url, SHOP)


def test_allowlist_entries_may_be_urls_wildcards_or_unicode() -> None:
    assert url_allowed("https://a.shop.example/x", ["*.shop.example"])
    assert url_allowed("https://shop.example/x", ["https://shop.example/any/path"])
    assert url_allowed("https://xn--e1afmkfd.xn--p1ai/", ["пример.рф"])
    assert not url_allowed("https://shop.example/", [""])


def test_links_without_a_scheme_are_found() -> None:
    text = "Hi! Log in at evil.example/login, or www.promo.shop; call 1.5 hours after. report.pdf is attached."
    found = urls_in_text(text)
    assert "evil.example/login" in found
    assert "www.promo.shop" in found
    assert not any("report.pdf" in u or "1.5" in u for u in found)


def test_real_tlds_and_emails_are_links_too() -> None:
    found = urls_in_text("see bank-login.zip/x and Shop.XYZ/a, write to a@evil.example")
    assert "bank-login.zip/x" in found and "Shop.XYZ/a" in found
    assert "mailto:a@evil.example" in found


def test_backslash_token_is_kept_whole_and_read_as_its_real_host() -> None:
    found = urls_in_text("Update: https://evil.example\\.shop.example/hook now.")
    assert "https://evil.example\\.shop.example/hook" in found
    assert all(not url_allowed(u, SHOP) for u in found)


@pytest.mark.parametrize(
    "text",
    [
        "Suivi: http:evil.example/x merci",  # a special scheme without slashes: browsers add them
        "Suivi: https:/evil.example/x merci",
        "Suivi: HTTPS:\\evil.example/x merci",
        "Suivi: evil\uff0eexample/x merci",  # full-width dot: IDNA maps it to '.'
        "Suivi: https://evil\uff0eexample/x merci",
        "Suivi: evil\u3002example/x merci",  # ideographic full stop
        "Suivi: evil\uff61example/x merci",  # halfwidth ideographic full stop
    ],
    ids=["http-colon", "https-one-slash", "https-backslashes", "fullwidth-dot", "fullwidth-dot-scheme",
         "ideographic-dot", "halfwidth-dot"],
)
def test_slashless_schemes_and_wide_dots_are_links_to_their_real_host(text: str) -> None:
    found = urls_in_text(text)
    assert found, f"no link found in {text!r}"
    assert {host for u in found if (parsed := parse_url(u)) and (host := parsed.host)} == {"evil.example"}
    assert all(not url_allowed(u, SHOP) for u in found)


def test_a_word_before_a_colon_is_not_a_link() -> None:
    assert urls_in_text("Note: http: alone, https:// alone, and 10:30 are no links.") == []
    assert urls_in_text("shop.example:8080/x") and all(url_allowed(u, SHOP) for u in urls_in_text("shop.example:8080/x"))


def test_template_placeholders_are_not_hosts() -> None:
    """.name, .link and .email are top-level domains, yet `{{contact.name}}` is filled when the message renders."""
    text = "Bonjour {{contact.name}}, votre lien {{custom.link}} ({{ user.email }}) {{contact.fullName}}"
    assert urls_in_text(text) == []
    assert policy_problem([], None, urls_in_text(text), tool="create_template", policy=configured(url_allowlist=SHOP)) is None


def test_a_link_built_around_a_placeholder_is_still_a_link_no_allowlist_names() -> None:
    found = urls_in_text("Payez sur https://{{custom.host}}/pay ou shop.example/{{custom.path}}")
    assert found == ["https://placeholder/pay", "shop.example/placeholder"]
    problem = policy_problem([], None, found, tool="create_template", policy=configured(url_allowlist=SHOP))
    assert problem is not None and "https://placeholder/pay" in problem and "shop.example/placeholder" not in problem


def test_links_are_listed_once_in_order_with_trailing_punctuation_trimmed() -> None:
    assert urls_in_text("(https://shop.example/a), https://shop.example/a.", None, "") == ["https://shop.example/a"]


# ---------------------------------------------------------------- policy_problem


def test_url_policy_names_the_link_and_the_host_it_really_opens() -> None:
    policy = configured(url_allowlist="shop.example")
    problem = policy_problem([], None, ["https://evil.example\\.shop.example/hook"], tool="create_webhook",
                             policy=policy)
    assert problem is not None and "host evil.example" in problem and "MSGFLASH_URL_ALLOWLIST" in problem
    assert policy_problem([], None, ["https://shop.example/hook"], tool="create_webhook", policy=policy) is None


def test_recipient_allowlist_fails_closed_on_unnamed_recipients() -> None:
    policy = configured(recipient_allowlist="+33612345001")
    assert policy_problem(["+33 6 12 34 50 01"], 1, [], tool="send_message", policy=policy) is None
    outside = policy_problem(["+33612345001", "+33699999999"], 2, [], tool="create_campaign", policy=policy)
    assert outside is not None and "+33699999999" in outside
    unnamed = policy_problem(["+33612345001"], 20, [], tool="create_campaign", policy=policy)
    assert unnamed is not None and "20 recipients" in unnamed


def test_cap_uses_the_exact_count() -> None:
    policy = configured(max_recipients=5)
    assert policy_problem([], 5, [], tool="create_campaign", policy=policy) is None
    problem = policy_problem([], 6, [], tool="resume_campaign", policy=policy)
    assert problem is not None and "6 recipients" in problem and "MSGFLASH_MAX_RECIPIENTS" in problem


def test_statuses_are_refused_under_a_recipient_allowlist_unless_allowed() -> None:
    from msgflash_mcp.tools import ALL_TOOLSETS

    # Which tools broadcast is declared on the tool: statuses, and no tool that names its recipients.
    assert [s.name for t in ALL_TOOLSETS for s in t.specs if s.broadcast] == ["publish_status"]
    locked = configured(recipient_allowlist="+33612345001")
    problem = policy_problem([], None, [], tool="publish_status", broadcast=True, policy=locked)
    assert problem is not None and "MSGFLASH_ALLOW_STATUSES" in problem
    allowed = configured(recipient_allowlist="+33612345001", allow_statuses=True)
    assert policy_problem([], None, [], tool="publish_status", broadcast=True, policy=allowed) is None
    assert policy_problem([], None, [], tool="publish_status", broadcast=True, policy=configured()) is None


def test_plan_view_policies_read_every_url_place() -> None:
    policy = configured(url_allowlist="shop.example")
    base = {"tool": "send_message", "who": {"count": 1, "numbers": ["+33612345001"]}}
    assert view_policy_problem({**base, "what": {"links": [{"url": "https://shop.example"}]}}, policy) is None
    for what in (
        {"links": [{"url": "evil.example/login"}]},
        {"media": "https://evil.example\\.shop.example/a.jpg"},
        {"buttons": [{"type": "url", "label": "Go", "target": "https://evil.example"}]},
    ):
        assert view_policy_problem({**base, "what": what}, policy) is not None, what
    assert view_policy_problem({"tool": "create_webhook", "urls": ["https://evil.example/h"]}, policy) is not None


def test_plan_view_shows_the_host_a_browser_opens() -> None:
    from msgflash_mcp.server.guard.plan import Plan

    plan = Plan(tool="send_message", action="x", workspace="personal",
                urls=("https://evil.example\\.shop.example/hook", "shop.example/sale"))
    assert [link["host"] for link in plan.view()["what"]["links"]] == ["evil.example", "shop.example"]
