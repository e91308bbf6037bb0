"""The OAuth scopes this server understands. One place: the metadata, the challenges and the checks read them."""

from __future__ import annotations

READ = "msgflash:read"
SEND = "msgflash:send"
DELETE = "msgflash:delete"
ADMIN = "msgflash:admin"

# What every signed-in client needs to do anything (list tools, read): named in the 401 challenge, so a
# client asks for it first and steps up to the others when an operation needs them.
BASELINE = READ
ALL = (READ, SEND, DELETE, ADMIN)
