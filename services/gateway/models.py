"""Tables of the gateway: users, API tokens, the audit log."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text

from shared.types import UTCDateTime

metadata = MetaData()

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),   # argon2id
    Column("display_name", Text, nullable=False),
    Column("role", String(16), nullable=False),              # central | province | district | lao | reviewer | ops
    Column("org_code", String(32), nullable=False),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the token
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("scopes", String(64), nullable=False, server_default="read,write"),   # read | read,write
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
)

# Wrong passwords per username, for known and unknown names alike: the lockout answers the same
# whether or not the account exists. (users.failed_logins / locked_until are no longer used.)
login_failures = Table(
    "login_failures", metadata,
    Column("username", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failed_at", UTCDateTime(), nullable=False),
    Column("locked_until", UTCDateTime(), nullable=True),
)
Index("ix_login_failures_last", login_failures.c.last_failed_at)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("username", String(64), nullable=True),
    Column("action", String(120), nullable=False),    # METHOD path
    Column("target", String(200), nullable=True),     # the resource written, e.g. assignment:<id>
    Column("remote_addr", String(64), nullable=True),
    Column("status", Integer, nullable=False),
    Column("request", Text, nullable=True),            # the request body (JSON), secrets removed
    Column("before", Text, nullable=True),             # the resource before the write (JSON), secrets removed
    Column("result", Text, nullable=True),
    Column("correlation_id", String(64), nullable=True),
)
Index("ix_audit_at", audit_log.c.at)
Index("ix_audit_target", audit_log.c.target)

# Responses of writes sent with an Idempotency-Key, per caller (services/gateway/idempotency.py).
idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("username", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("method", String(10), nullable=False),
    Column("path", String(400), nullable=False),
    Column("request_hash", String(64), nullable=False),    # sha256 of method, path, query and body
    Column("state", String(12), nullable=False),           # in_progress | done
    Column("status", Integer, nullable=True),
    Column("response", Text, nullable=True),                # the JSON body answered
    Column("created_at", UTCDateTime(), nullable=False),
    Column("locked_until", UTCDateTime(), nullable=True),   # an in-progress claim lapses then (a crashed gateway)
    Column("expires_at", UTCDateTime(), nullable=False),
)
Index("ix_idempotency_expires_at", idempotency_keys.c.expires_at)
