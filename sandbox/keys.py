"""Fixed, documented sandbox keys (like a payment provider's test keys)."""

PERSONAL_KEY = "msgf_live_" + "5a" * 32
TEAM_KEY = "msgf_team_" + "7e" * 32
TEAM_ID = "7e7e7e7e-0000-4000-8000-000000000001"
TEAM_NAME = "sandbox-team"
