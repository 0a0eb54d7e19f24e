"""Tables of the notifications service (its own database)."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Text

from shared.types import UTCDateTime

metadata = MetaData()

# This service's own copy of the org registry (from plans' org_unit_changed events).
recipients = Table(
    "recipients", metadata,
    Column("code", String(32), primary_key=True),
    Column("level", String(32), nullable=False),
    Column("parent_code", String(32), nullable=True),
    Column("name_th", Text, nullable=False),
    Column("email", String(200), nullable=True),
    Column("language", String(2), nullable=False, server_default="th"),
)
Index("ix_recipients_parent", recipients.c.parent_code)

# What this service knows of each obligation: enough to decide if a step is still relevant.
tracked_obligations = Table(
    "tracked_obligations", metadata,
    Column("obligation_id", String(36), primary_key=True),
    Column("unit_code", String(32), nullable=False),
    Column("directive_id", String(36), nullable=True),
    Column("indicator_code", String(64), nullable=False),
    Column("indicator_name_th", Text, nullable=False),
    Column("period", String(32), nullable=False),
    Column("group_key", String(120), nullable=False),  # obligations reported together
    Column("due_at", UTCDateTime(), nullable=False),
    Column("state", String(16), nullable=False),        # open | submitted | missed
)
Index("ix_tracked_group", tracked_obligations.c.group_key)

# One row per message that should exist. The unique key makes a second copy impossible.
scheduled_messages = Table(
    "scheduled_messages", metadata,
    Column("id", String(36), primary_key=True),
    Column("dedupe_key", String(240), nullable=False, unique=True),  # recipient|subject|step
    Column("kind", String(16), nullable=False),          # reminder | escalation
    Column("recipient_code", String(32), nullable=False),
    Column("subject_ref", String(120), nullable=False),  # obligation id or group key
    Column("step", String(40), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    # scheduled -> sending -> sent | failed | uncertain; scheduled -> cancelled | skipped
    Column("status", String(16), nullable=False),
    Column("status_reason", Text, nullable=True),
    Column("late", Boolean, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("claimed_at", UTCDateTime(), nullable=True),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("correlation_id", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
Index("ix_scheduled_due", scheduled_messages.c.status, scheduled_messages.c.due_at)
Index("ix_scheduled_subject", scheduled_messages.c.subject_ref)

# The delivery ledger: one row per attempt on a channel.
deliveries = Table(
    "deliveries", metadata,
    Column("id", String(36), primary_key=True),
    Column("message_id", String(36), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("address", String(200), nullable=False),
    Column("status", String(16), nullable=False),         # sent | failed
    Column("error", Text, nullable=True),
    Column("subject", Text, nullable=True),
    Column("body", Text, nullable=True),
    Column("attempted_at", UTCDateTime(), nullable=False),
)
Index("ix_deliveries_message", deliveries.c.message_id)
