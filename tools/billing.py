"""Billing, usage and account: read-only. Checkout, cancellation and downgrades live in the dashboard.

Everything here except list_plans is personal-key-only (routes declared GET(path, personal=True)):
those tools take no `workspace` argument and always carry the personal key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..server.apps.views import USAGE as USAGE_VIEW
from ..server.call.context import CallContext
from ..server.core.results import Reply
from ..server.registry import GET, Effect, NoArgs, ToolInput, Toolset
from ._responses import Usage
from ._types import Limit, Page

# Routes other modules read too (campaign previews, resources, doctor): named once, here.
USAGE = GET("/api/v1/usage", personal=True)
BILLING_USAGE = GET("/api/v1/billing/usage", personal=True)

toolset = Toolset("billing", "Plan, usage, subscription and payments (read-only).")


# A quota a person can reach: (label, limit field, usage field) in the usage document (REFERENCE §4.2, §16.3).
QUOTA_FIELDS = (
    ("outbound messages", "monthlyOutboundQuota", "effectiveOutboundUsage"),
    ("API requests", "monthlyApiRequestQuota", "apiRequestsCount"),
    ("instances", "maxInstances", "activeInstancesCount"),
    ("API keys", "maxApiKeys", "activeApiKeysCount"),
)
# Limits the usage document reports without a matching counter: shown as a maximum only.
LIMIT_LABELS = {"maxWebhookEndpoints": "webhook endpoints", "maxContactGroups": "contact groups"}
NEAR_LIMIT_PERCENT = 80


@dataclass(frozen=True)
class Quota:
    """One limit of the plan and how much of it is used (None: the API reports no counter)."""

    label: str
    used: int | None
    limit: int | None  # None: unlimited

    @property
    def percent(self) -> int | None:
        if self.used is None or self.limit is None:
            return None
        if self.limit <= 0:
            return 100  # nothing allowed: already at the limit
        return 100 * self.used // self.limit  # floored: 79.9% never reads as 80%

    @property
    def near_limit(self) -> bool:
        return self.percent is not None and self.percent >= NEAR_LIMIT_PERCENT

    def describe(self) -> str:
        if self.used is None:
            return f"{self.label} max {'unlimited' if self.limit is None else self.limit}"
        if self.limit is None:
            return f"{self.label} {self.used} (unlimited)"
        return f"{self.label} {self.used}/{self.limit} ({self.percent}%)"


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def usage_quotas(data: dict[str, Any]) -> list[Quota]:
    """Every limit of a usage document, paired with its counter; limit fields the API adds later come last."""
    limits: dict[str, Any] = data.get("limits") or {}
    usage: dict[str, Any] = data.get("usage") or {}
    quotas = [
        Quota(label, _count(usage.get(used, 0)), _count(limits.get(limit)))
        for label, limit, used in QUOTA_FIELDS
        if limit in limits
    ]
    paired = {limit for _, limit, _ in QUOTA_FIELDS}
    quotas += [
        Quota(LIMIT_LABELS.get(field, field), None, _count(value)) for field, value in limits.items() if field not in paired
    ]
    return quotas


def _usage_line(data: dict[str, Any]) -> str:
    """'Pro plan: outbound messages 1325/5000 (27%), API requests 48000/50000 (96%), ...; near limit (>=80%): API
    requests' from a usage document (/usage and /billing/usage share the shape)."""
    plan = data.get("plan") or {}
    name = plan.get("name") or plan.get("code") or "Unknown"
    quotas = usage_quotas(data)
    near = [quota.label for quota in quotas if quota.near_limit]
    line = f"{name} plan: " + (", ".join(quota.describe() for quota in quotas) or "no limits reported")
    period = data.get("period") or {}
    if period.get("start") and period.get("end"):
        line += f" ({str(period['start'])[:10]} to {str(period['end'])[:10]})"
    return line + (f"; near limit (>={NEAR_LIMIT_PERCENT}%): {', '.join(near)}" if near else "; none near its limit")


def _money(minor: Any, currency: Any) -> str:
    if not isinstance(minor, int | float):
        return "?"
    return f"{minor / 100:.2f} {currency or ''}".strip()


def _price(plan: dict[str, Any]) -> str:
    if "priceMonthly" in plan:
        return f"{plan['priceMonthly']} {plan.get('currency') or 'EUR'}/month"
    if "priceEur" in plan:
        return f"{plan['priceEur']} EUR/month"
    return "price n/a"


@toolset.tool(USAGE, Effect.READ, output=Usage, own_data=True, view=USAGE_VIEW)
async def get_usage(call: CallContext, args: NoArgs) -> Reply:
    """Start here for usage: every quota as used/limit with %, flagging those at 80%+."""
    data = await call.api()
    return Reply(_usage_line(data), data)


@toolset.tool(GET("/api/v1/me", personal=True), Effect.READ)
async def get_account(call: CallContext, args: NoArgs) -> Reply:
    """The personal key's account: name, email, plan, teams."""
    data = await call.api()
    name = data.get("fullName") or data.get("displayName") or data.get("name") or data.get("email") or "?"
    plan = data.get("plan")
    if isinstance(plan, dict):
        plan = plan.get("name") or plan.get("code")
    teams = data.get("teams")
    parts = [f"Account {name}"]
    if data.get("email") and data.get("email") != name:
        parts[0] += f" <{data['email']}>"
    if plan:
        parts.append(f"{plan} plan")
    if isinstance(teams, list):
        parts.append(f"{len(teams)} team(s)")
    return Reply(", ".join(parts), data)


@toolset.tool(GET("/api/v1/billing/plans"), Effect.READ, own_data=True)
async def list_plans(call: CallContext, args: NoArgs) -> Reply:
    """The plan catalogue with prices, limits and features."""
    data = await call.api()
    shown = ", ".join(f"{p.get('name') or p.get('code')} ({_price(p)})" for p in data)
    return Reply(f"{len(data)} plan(s): {shown}", data)


@toolset.tool(GET("/api/v1/billing/subscription", personal=True), Effect.READ, own_data=True)
async def get_subscription(call: CallContext, args: NoArgs) -> Reply:
    """Plan, scheduled change or cancellation, billing period (quotas: get_usage)."""
    data = await call.api()
    sub = data.get("subscription") or {}
    plan = sub.get("plan") or {}
    usage = data.get("usage") or {}
    period = data.get("period") or {}
    summary = (
        f"{plan.get('name') or plan.get('code') or 'No'} plan, {usage.get('effectiveOutboundUsage', 0)} outbound "
        f"messages this period ({str(period.get('start', '?'))[:10]} to {str(period.get('end', '?'))[:10]})"
    )
    if sub.get("scheduledPlan") or sub.get("scheduledAction"):
        scheduled = sub.get("scheduledPlan") or {}
        target = scheduled.get("name") or scheduled.get("code") if isinstance(scheduled, dict) else scheduled
        summary += f"; scheduled: {sub.get('scheduledAction') or 'change'}"
        if target:
            summary += f" to {target}"
        if sub.get("scheduledPlanAt"):
            summary += f" on {str(sub['scheduledPlanAt'])[:10]}"
    return Reply(summary, data)


@toolset.tool(BILLING_USAGE, Effect.READ, own_data=True)
async def get_billing_usage(call: CallContext, args: NoArgs) -> Reply:
    """get_usage plus the plan's features."""
    data = await call.api()
    features: dict[str, Any] = data.get("features") or {}
    included = [name for name, on in features.items() if on is True]
    excluded = [name for name, on in features.items() if on is False]
    summary = f"{_usage_line(data)}; features: {', '.join(included) or 'none'}"
    if excluded:
        summary += f" (not included: {', '.join(excluded)})"
    return Reply(summary, data)


class PaymentsInput(ToolInput):
    page: Page | None = None
    limit: Limit | None = None


@toolset.tool(GET("/api/v1/billing/payments", personal=True), Effect.READ, own_data=True)
async def list_payments(call: CallContext, args: PaymentsInput) -> Reply:
    """Payments of the personal account, newest first."""
    page = args.page
    data = await call.api(query={"page": page, "limit": args.limit})
    payments = data.get("payments") or []
    current, pages = data.get("page", page or 1), data.get("totalPages", 1)
    summary = f"{len(payments)} payment(s) on page {current}/{pages} ({data.get('total', len(payments))} in all)"
    if payments:
        last = payments[0]
        summary += (
            f"; latest {_money(last.get('amount'), last.get('currency'))} {last.get('status')} "
            f"for {last.get('planName') or last.get('planCode')} on {str(last.get('createdAt', '?'))[:10]}"
        )
    if isinstance(current, int) and isinstance(pages, int) and current < pages:
        summary += f"; pass page={current + 1} for more"
    return Reply(summary, data)
