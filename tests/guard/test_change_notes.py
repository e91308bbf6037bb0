"""Change notes (server/guard/plan.py `changes`): every line says before → after, so a person asked again
sees what moved, never only "changed" or "same count" (issue 21 item 8)."""

from __future__ import annotations

from typing import Any

from msgflash_mcp.server.guard.plan import Plan, changes


def plan(**parts: Any) -> Plan:
    return Plan(tool="create_campaign", action="Create the campaign", workspace="personal", **parts)


def test_a_contact_added_shows_the_count_before_and_after_even_when_the_plan_counts_none() -> None:
    old = plan(contact_ids=("a", "b", "c"), numbers=("+331", "+332", "+333")).decisive()
    lines = changes(old, plan(contact_ids=("a", "b", "c", "d"), numbers=("+331", "+332", "+333", "+334")))
    assert lines == ["recipients 3 → 4", "numbers 3 → 4 (added +334)"]


def test_a_swapped_recipient_names_who_came_and_went() -> None:
    old = plan(recipients=2, numbers=("+331", "+332")).decisive()
    assert changes(old, plan(recipients=2, numbers=("+331", "+339"))) == [
        "recipients 2 → 2", "numbers 2 → 2 (added +339; removed +332)"
    ]


def test_content_schedule_and_links_give_both_sides() -> None:
    old = plan(content={"type": "text", "text": "Hello\nAwa", "media": None},
               schedule={"utc": "2030-01-01T10:00:00Z", "repeat": "none"}, urls=("https://shop.example/a",)).decisive()
    new = plan(content={"type": "image", "text": "Pay now\u202e", "media": "https://cdn.example/p.png"},
               schedule={"utc": "2030-01-02T10:00:00Z", "repeat": "daily"}, urls=("https://evil.example/pay",))
    assert changes(old, new) == [
        'text changed: "Hello Awa" → "Pay now"',
        'media none → "https://cdn.example/p.png"',
        'type "text" → "image"',
        "links 1 → 1 (added https://evil.example/pay; removed https://shop.example/a)",
        "schedule 2030-01-01T10:00:00Z UTC → 2030-01-02T10:00:00Z UTC, repeats daily",
    ]


def test_a_policy_refusal_says_why() -> None:
    old = plan(recipients=1).decisive()
    assert changes(old, plan(recipients=1, blocked="+33699 is not on the recipient allow-list")) == [
        'a policy now refuses it: "+33699 is not on the recipient allow-list"'
    ]
