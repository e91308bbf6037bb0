"""SQLite schema and the single connection.  Objects are stored as JSON documents next to the
columns we filter, sort or enforce uniqueness on."""

from __future__ import annotations

import sqlite3
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS usage (
  user_id TEXT NOT NULL, period TEXT NOT NULL,
  messages INTEGER NOT NULL DEFAULT 0, statuses INTEGER NOT NULL DEFAULT 0, api INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, period));
CREATE TABLE IF NOT EXISTS instances (rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, ws TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (
  rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, ws TEXT NOT NULL, phone TEXT NOT NULL,
  name_lc TEXT NOT NULL, created_at TEXT NOT NULL, data TEXT NOT NULL, UNIQUE (ws, phone));
CREATE INDEX IF NOT EXISTS contacts_created ON contacts (ws, created_at, id);
CREATE INDEX IF NOT EXISTS contacts_name ON contacts (ws, name_lc, id);
CREATE TABLE IF NOT EXISTS groups (
  rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, ws TEXT NOT NULL, name_lc TEXT NOT NULL, data TEXT NOT NULL,
  UNIQUE (ws, name_lc));
CREATE TABLE IF NOT EXISTS group_members (
  rid INTEGER PRIMARY KEY, group_id TEXT NOT NULL, contact_id TEXT NOT NULL, added_at TEXT NOT NULL,
  UNIQUE (group_id, contact_id));
CREATE INDEX IF NOT EXISTS group_members_contact ON group_members (contact_id);
CREATE TABLE IF NOT EXISTS templates (rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, ws TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS templates_ws ON templates (ws, rid);
CREATE TABLE IF NOT EXISTS messages (
  rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, ws TEXT NOT NULL, instance_id TEXT NOT NULL,
  campaign_id TEXT, status TEXT NOT NULL, next_at REAL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS messages_ws ON messages (ws, rid);
CREATE INDEX IF NOT EXISTS messages_next ON messages (next_at) WHERE next_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_campaign ON messages (campaign_id, status);
CREATE INDEX IF NOT EXISTS messages_created ON messages (ws, json_extract(data, '$.createdAt'), rid);
CREATE TABLE IF NOT EXISTS campaigns (
  rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, ws TEXT NOT NULL, status TEXT NOT NULL, next_at REAL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS campaigns_next ON campaigns (next_at) WHERE next_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS webhooks (rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, ws TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
  rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, ws TEXT NOT NULL, status TEXT NOT NULL, next_at REAL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_ws ON jobs (ws, rid);
CREATE INDEX IF NOT EXISTS jobs_next ON jobs (next_at) WHERE next_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS lookups (
  rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, ws TEXT NOT NULL, status TEXT NOT NULL, next_at REAL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS lookups_ws ON lookups (ws, rid);
CREATE INDEX IF NOT EXISTS lookups_next ON lookups (next_at) WHERE next_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS payments (rid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, user_id TEXT NOT NULL, data TEXT NOT NULL);
"""

TABLES = ("kv", "usage", "instances", "contacts", "groups", "group_members", "templates", "messages",
          "campaigns", "webhooks", "jobs", "lookups", "payments")


class Connection(sqlite3.Connection):
    """sqlite3 connection with a cache of the (small, hot) account document."""

    account_cache: dict[str, Any] | None = None


def connect(path: str) -> Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=Connection)
    conn.row_factory = sqlite3.Row
    if path != ":memory:":
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.executescript(SCHEMA)
    return conn


def wipe(conn: sqlite3.Connection) -> None:
    if isinstance(conn, Connection):
        conn.account_cache = None
    conn.execute("BEGIN")
    for t in TABLES:
        conn.execute(f"DELETE FROM {t}")
    conn.execute("COMMIT")
