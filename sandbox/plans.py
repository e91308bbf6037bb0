"""The plan catalogue, in one place.  The docs disagree (REFERENCE §4.3); these values follow the
`/billing/usage` examples for Pro/Starter and the older table for the rest.  `maxContactGroups`
is our name for the undocumented contact-group cap (None = unlimited)."""

from __future__ import annotations

from typing import Any

PLANS: dict[str, dict[str, Any]] = {
    "free": {
        "name": "Free",
        "priceMonthly": 0,
        "limits": {
            "maxInstances": 1,
            "maxApiKeys": 1,
            "maxWebhookEndpoints": 0,
            "monthlyOutboundQuota": 20,
            "monthlyApiRequestQuota": 1000,
            "maxContactGroups": 2,
        },
        "features": {"campaigns": False, "statuses": False, "voiceNotes": False, "webhooks": False, "numberLookups": False},
    },
    "starter": {
        "name": "Starter",
        "priceMonthly": 9,
        "limits": {
            "maxInstances": 2,
            "maxApiKeys": 3,
            "maxWebhookEndpoints": 3,
            "monthlyOutboundQuota": 500,
            "monthlyApiRequestQuota": 10000,
            "maxContactGroups": 10,
        },
        "features": {"campaigns": True, "statuses": False, "voiceNotes": True, "webhooks": True, "numberLookups": True},
    },
    "pro": {
        "name": "Pro",
        "priceMonthly": 19,
        "limits": {
            "maxInstances": 5,
            "maxApiKeys": 10,
            "maxWebhookEndpoints": 10,
            "monthlyOutboundQuota": 5000,
            "monthlyApiRequestQuota": 50000,
            "maxContactGroups": 50,
        },
        "features": {"campaigns": True, "statuses": True, "voiceNotes": True, "webhooks": True, "numberLookups": True},
    },
    "plus": {
        "name": "Plus",
        "priceMonthly": 39,
        "limits": {
            "maxInstances": 20,
            "maxApiKeys": 10,
            "maxWebhookEndpoints": 50,
            "monthlyOutboundQuota": 150000,
            "monthlyApiRequestQuota": 500000,
            "maxContactGroups": None,
        },
        "features": {"campaigns": True, "statuses": True, "voiceNotes": True, "webhooks": True, "numberLookups": True},
    },
}
# The newer plan table renamed Plus to MAX with the same price and limits (REFERENCE §4.3): one tier,
# two codes, so accounts on either code keep working.
PLANS["max"] = {**PLANS["plus"], "name": "MAX"}

CURRENCY = "EUR"


def plan_item(code: str) -> dict[str, Any]:
    p = PLANS[code]
    return {
        "code": code,
        "name": p["name"],
        "priceMonthly": p["priceMonthly"],
        "currency": CURRENCY,
        "limits": dict(p["limits"]),
        "features": dict(p["features"]),
    }
