"""The trust catalogue (threat model §8) as stable ids, and the `@requirement` marker that cites them.

Pattern from python-sdk `tests/interaction/_requirements.py`: every id here must be named by at
least one test somewhere under `tests/` (`@requirement("secret.canary-nowhere")`), or by an entry
of `COVERED_ELSEWHERE` pointing at an existing test (for suites owned by others that do not use the
marker yet), or be listed in `PENDING` with its owner and reason. `test_coverage.py` enforces all
three directions: no uncovered id, no unknown id, no stale pending entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

REQUIREMENTS: dict[str, str] = {
    # Retries and idempotency (server/api/retry.py, server/api/client.py)
    "retry.no-dup-send-5xx": "a send that committed then failed (5xx, dropped, timeout) leaves one message; result is success or OutcomeUnknown naming the status tool",
    "retry.safe-before-commit": "429 with Retry-After and ConnectError before commit are retried; exactly one message; Retry-After respected",
    "retry.retry-after-parsing": "Retry-After seconds/float/HTTP date/negative/huge/garbage/absent parse as documented; above the cap fails fast",
    "retry.bounded": "an always-503 API yields at most 1 + max_retries requests within the tool deadline",
    "retry.hang-deadline": "an API that never answers yields a tool error within the deadline (OutcomeUnknown for sends)",
    "retry.no-4xx-retry": "400/401/403/404/422 produce exactly one request",
    # Rate limiting (server/api/ratelimit.py)
    "rate.concurrent-zero-429": "concurrent tool calls against a 10 req/s sandbox see zero 429s and take at least (n - burst) / rate",
    "rate.retries-count": "retries consume rate-limit slots",
    "rate.429-pauses-all": "one 429 with Retry-After delays every other in-flight caller",
    "rate.per-credential": "team and personal keys have independent schedules",
    "rate.monotonic": "moving the wall clock does not change pacing",
    "rate.cancel-safe": "cancelled waiters neither deadlock the limiter nor let later calls exceed the rate",
    # Confirmation guard (server/guard/confirm.py)
    "guard.preview-no-effect": "a guarded tool without a token changes nothing and previews every recipient, text and URL",
    "guard.bound-args": "a token used with any changed argument is rejected; nothing changes",
    "guard.single-use": "a token works once, also when two uses race",
    "guard.expiry": "tokens expire (injected clock)",
    "guard.cross-tool": "a token minted for one tool is useless for another",
    "guard.principal": "on HTTP a token minted for principal A is rejected for principal B",
    "guard.unguessable": "tokens carry >= 128 random bits; no collisions or structure",
    "guard.state-machine": "preview/confirm/edit/replay/expire interleavings: side effects equal valid first uses",
    # Credentials and scope
    "cred.team-key-not-on-personal-routes": "personal-only routes only ever see the personal key; team requests always carry their X-Team-Id",
    "cred.not-model-selectable": "no tool input schema has a key/team id/base URL/header field; such extra arguments change nothing",
    "cred.no-passthrough": "Authorization/x-api-key/X-Team-Id headers from an HTTP MCP client never reach the API",
    "cred.read-only-mode": "with read-only on, list_tools() has only read-only tools and write tools cannot be called by name",
    "cred.toolsets": "only enabled toolsets appear; unknown toolset names fail at start-up",
    # Secrets
    "secret.canary-nowhere": "canary keys never appear in tool results, errors, log records of any logger at DEBUG, or reprs, even when the API echoes them",
    "secret.not-in-url": "no request URL seen by the API contains a key",
    "secret.repr": "repr/str of settings and settings validation errors never contain a key",
    "secret.log-scrubbing": "installed log scrubbing masks secrets on every logger and handler, including ones created later",
    # Injection and output handling
    "inject.static-tool-list": "list_tools() and server instructions are byte-identical before and after reading hostile API data",
    "inject.sanitised-fields": "inbound text comes back without invisible/bidi/tag characters, length-capped, with the untrusted-content note",
    "inject.webhook-allowlist": "webhooks to hosts outside the allow-list are refused even with a valid confirmation",
    "inject.recipient-policy": "with a recipient allow-list, sends to other numbers are refused before any request",
    "inject.url-policy": "URLs on non-allow-listed domains are listed in the preview and refused in strict mode",
    "inject.volume-cap": "one confirmation cannot reach more than MSGFLASH_MAX_RECIPIENTS recipients",
    "plan.workspace-race": "a switch_workspace landing during the token path, the legacy form or the modern form: the write carries the confirmed workspace's key, or nothing is sent and the new plan is asked for",
    "plan.group-growth": "members added to a group after the preview: nothing sent, asked again with 'recipients 5 → 7'; under a cap or allow-list the confirmed ids are frozen into the request",
    "plan.content-swap": "a template edited after the preview: nothing sent, asked again with 'template text changed'",
    "plan.write-race": "a confirmed write and another write of the same workspace in one parallel batch (one process, two replicas sharing Redis; token, both form eras and the review card): people receive only what was confirmed, or nothing and the new plan is asked for",
    "plan.modern-replay": "a 2026-07-28 client re-sending the accepted final round verbatim gets the first result; one send. A new call asking the same question afresh acts again",
    "deliver.frozen-recipients": "a campaign is created with the confirmed contact ids on every path: people who join its group or tag later receive nothing, whenever the API resolves recipients",
    "edit.pending-every-record": "template and contact edits consult every pending campaign of the record, whatever its age: ten newer completed campaigns do not hide an older pending one",
    "edit.policies-follow": "a phone edit of a pending campaign's recipient meets the recipient allow-list: refused like a direct send to that number",
    "edit.contact-field-links": "a name or metadata edit a pending templated campaign renders is confirmed first and meets the URL allow-list",
    "edit.record-write-failed": "a failed record write is reported in create_campaign's outcome, edits under it stay guarded in-process, and it is written once possible",
    "policy.every-path": "the recipient allow-list and cap hold on campaigns (every selector) and resume_campaign; statuses are refused under an allow-list unless MSGFLASH_ALLOW_STATUSES",
    "policy.whatwg-urls": "links are judged by the host a browser opens (backslash, userinfo) and links without a scheme are found, in messages, campaigns, statuses and webhooks",
    "hygiene.one-line": "third-party text in previews, forms and summaries is one clean quoted line (no bidi/zero-width/newlines); the workspace line stays first",
    "principal.token-hash": "an HTTP principal is a keyed hash of its bearer token: reordering the token list keeps identities, workspaces and confirmations",
    "principal.tokenless-sessions": "without a token, two HTTP sessions share neither an active workspace nor confirmations",
    "inject.no-local-paths": "no tool parameter accepts a filesystem path; media are http(s) URLs",
    "inject.path-encoding": "ids like ../billing, a/b, %2e%2e, ?x=1 are rejected or encoded; the API sees intended routes only",
    # Protocol, transport, schema
    "proto.stdio-clean-stdout": "the stdio server writes only JSON-RPC messages to stdout",
    "proto.dns-rebinding": "HTTP answers 421 to a foreign Host and 403 to a foreign Origin; default bind is loopback",
    "proto.http-bearer": "with MSGFLASH_HTTP_TOKEN set, HTTP requests without the right bearer token get 401",
    "proto.http-body-limit": "HTTP request bodies above 4 MiB get 413",
    "proto.http-bind-warning": "binding HTTP to a non-loopback address logs a loud warning",
    "proto.toolsnaps": "each tool's schema and annotations match tests/contract/__toolsnaps__/",
    "proto.registry-rules": "every tool has a toolset, effect-derived annotations, a description, a valid unique name and a sandbox route",
    "proto.errors-readable": "API failures are is_error results with a safe message, never protocol errors or tracebacks",
    "fuzz.schema-args": "schema-generated arguments (valid and invalid) never crash, never reach the API when invalid, never leak a key",
}

# Ids from §8 deliberately left out, with the reason (listed by test_coverage so the choice stays visible).
NOT_APPLICABLE: dict[str, str] = {
    "retry.key-stable": "the MsgFlash API documents no idempotency keys (DESIGN.md): mutations are never blindly retried instead",
}

# Covered by tests owned by others that do not carry the marker yet: "path::test_name" (test_coverage checks they exist).
COVERED_ELSEWHERE: dict[str, list[str]] = {
    "rate.429-pauses-all": ["tests/unit/test_ratelimit.py::test_push_back_delays_every_pending_caller"],
    "rate.per-credential": ["tests/unit/test_ratelimit.py::test_keys_have_independent_schedules"],
    "rate.monotonic": ["tests/unit/test_ratelimit.py::test_pacing_uses_the_monotonic_clock_not_the_wall_clock"],
    "rate.cancel-safe": [
        "tests/unit/test_ratelimit.py::test_cancelled_waiters_neither_deadlock_nor_let_later_calls_exceed_the_rate"
    ],
    "retry.retry-after-parsing": ["tests/unit/test_retry.py::test_parse_retry_after",
                                  "tests/unit/test_retry.py::test_decide_fails_fast_when_asked_to_wait_beyond_the_cap"],
    "guard.preview-no-effect": ["tests/guard/test_tokens.py::test_preview_then_confirm_then_replay",
                                "tests/guard/test_elicitation.py::test_question_shows_the_blast_radius"],
    "guard.bound-args": ["tests/guard/test_tokens.py::test_changed_argument_is_refused"],
    "guard.single-use": ["tests/guard/test_tokens.py::test_two_concurrent_uses_of_one_token_act_once"],
    "guard.expiry": ["tests/guard/test_tokens.py::test_expired_token_is_refused"],
    "guard.cross-tool": ["tests/guard/test_tokens.py::test_token_for_another_tool_is_refused"],
    "guard.unguessable": ["tests/guard/test_unguessable.py::test_many_tokens_no_collisions_no_structure"],
    "guard.state-machine": ["tests/guard/test_state_machine.py::test_guard_state_machine",
                            "tests/guard/test_state_machine.py::test_plan_state_machine",
                            "tests/guard/test_state_machine.py::test_plan_machine_story_reaches_every_path"],
    "inject.webhook-allowlist": ["tests/guard/test_policies.py::test_webhook_outside_url_allowlist_is_refused"],
    "inject.recipient-policy": ["tests/guard/test_policies.py::test_send_outside_recipient_allowlist_is_refused"],
    "inject.url-policy": ["tests/guard/test_policies.py::test_message_link_outside_url_allowlist_is_refused"],
    "inject.volume-cap": ["tests/guard/test_policies.py::test_campaign_over_max_recipients_is_refused"],
    "cred.toolsets": ["tests/contract/test_registry_rules.py::test_toolsets_select_and_unknown_names_fail"],
    "proto.toolsnaps": ["tests/contract/test_toolsnaps.py::test_tool_schemas_match_snapshots"],
    "proto.registry-rules": ["tests/contract/test_registry_rules.py::test_listed_tools_follow_the_registry_rules"],
}

# Not covered yet: id -> owner and reason. Keep it short and honest; test_coverage fails when an id here gains a test.
PENDING: dict[str, str] = {}


def requirement(*ids: str) -> Callable[[F], F]:
    """Mark a test as evidence for one or more catalogue ids (unknown ids fail at import)."""
    unknown = [i for i in ids if i not in REQUIREMENTS]
    if not ids or unknown:
        raise ValueError(f"unknown requirement id(s): {unknown or '(none given)'}")

    def mark(fn: F) -> F:
        existing: tuple[str, ...] = getattr(fn, "__requirements__", ())
        fn.__requirements__ = existing + ids  # type: ignore[attr-defined]
        return fn

    return mark
