"""Billing, usage and account: read-only. Checkout, cancellation and downgrades live in the dashboard.

Everything here except list_plans is personal-key-only (PERSONAL_ONLY_PATHS in server/registry.py):
those tools take no `workspace` argument and always carry the personal key.
"""

from __future__ import annotations

from typing import Any

from ..server.api import Api
from ..server.registry import GET, Effect, Toolset
from ..server.results import Reply
from ._types import Limit, Page

# Routes other modules read too (campaign previews, resources, doctor): named once, here.
USAGE = GET("/api/v1/usage")
BILLING_USAGE = GET("/api/v1/billing/usage")

toolset = Toolset("billing", "Plan, usage, subscription and payments (read-only).")


def _quota(value: Any) -> str:
    return "unlimited" if value is None else str(value)


def _usage_line(data: dict[str, Any]) -> str:
    """'Pro plan: 1325/5000 outbound messages used this month, 2 instances' from a usage document."""
    plan = data.get("plan") or {}
    limits = data.get("limits") or {}
    usage = data.get("usage") or {}
    name = plan.get("name") or plan.get("code") or "Unknown"
    used = usage.get("effectiveOutboundUsage", 0)
    instances = usage.get("activeInstancesCount", 0)
    return (
        f"{name} plan: {used}/{_quota(limits.get('monthlyOutboundQuota'))} outbound messages used this month, "
        f"{instances} instance{'' if instances == 1 else 's'}"
    )


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


@toolset.tool(USAGE, Effect.READ)
async def get_usage(api: Api) -> Reply:
    """This month's outbound messages and API requests against the plan quotas (account-wide)."""
    data = await api()
    return Reply(_usage_line(data), data)


@toolset.tool(GET("/api/v1/me"), Effect.READ)
async def get_account(api: Api) -> Reply:
    """The account that owns the personal key: name, email, plan, teams."""
    data = await api()
    name = data.get("fullName") or data.get("displayName") or data.get("name") or data.get("email") or "?"
    plan = data.get("plan")
    if isinstance(plan, dict):
        plan = plan.get("name") or plan.get("code")  # type: ignore[union-attr]
    teams = data.get("teams")
    parts = [f"Account {name}"]
    if data.get("email") and data.get("email") != name:
        parts[0] += f" <{data['email']}>"
    if plan:
        parts.append(f"{plan} plan")
    if isinstance(teams, list):
        parts.append(f"{len(teams)} team(s)")  # type: ignore[arg-type]
    return Reply(", ".join(parts), data)


@toolset.tool(GET("/api/v1/billing/plans"), Effect.READ)
async def list_plans(api: Api) -> Reply:
    """The plan catalogue with prices, limits and features."""
    data = await api()
    shown = ", ".join(f"{p.get('name') or p.get('code')} ({_price(p)})" for p in data)
    return Reply(f"{len(data)} plan(s): {shown}", data)


@toolset.tool(GET("/api/v1/billing/subscription"), Effect.READ)
async def get_subscription(api: Api) -> Reply:
    """Current subscription, scheduled plan change, this month's usage and billing period."""
    data = await api()
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


@toolset.tool(BILLING_USAGE, Effect.READ)
async def get_billing_usage(api: Api) -> Reply:
    """Extended usage: plan limits, features and every usage counter of the period."""
    data = await api()
    limits = data.get("limits") or {}
    usage = data.get("usage") or {}
    summary = (
        f"{_usage_line(data)}; {usage.get('apiRequestsCount', 0)}/"
        f"{_quota(limits.get('monthlyApiRequestQuota'))} API requests"
    )
    return Reply(summary, data)


@toolset.tool(GET("/api/v1/billing/payments"), Effect.READ)
async def list_payments(api: Api, page: Page | None = None, limit: Limit | None = None) -> Reply:
    """Payment history of the personal account, newest first (page-based)."""
    data = await api(query={"page": page, "limit": limit})
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
