"""Routes that tool modules read across groups and that would otherwise make them import each other in a
circle (tools/_impact reads campaigns and contacts, which use it): named once, here, in a leaf."""

from __future__ import annotations

from ..server.registry import GET

CAMPAIGN = GET("/api/v1/campaigns/{id}")
CONTACT_GROUPS = GET("/api/v1/contacts/{id}/groups")
