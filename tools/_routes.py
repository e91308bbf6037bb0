"""Routes that tool modules read across groups and that would otherwise make them import each other in a
circle (tools/_impact and tools/_recipients read campaigns, contacts and groups, which use them): named
once, here, in a leaf."""

from __future__ import annotations

from ..server.registry import GET

CAMPAIGN = GET("/api/v1/campaigns/{id}")
CONTACTS = GET("/api/v1/contacts")
CONTACT_GROUPS = GET("/api/v1/contacts/{id}/groups")
GROUP = GET("/api/v1/contacts/groups/{groupId}")
GROUP_MEMBERS = GET("/api/v1/contacts/groups/{groupId}/members")
MESSAGES = GET("/api/v1/messages")  # also scanned for opt-outs (tools/opt_outs.py)
MESSAGE = GET("/api/v1/messages/{id}")
