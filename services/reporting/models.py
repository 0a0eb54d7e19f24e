"""Tables of the reporting service: the events it consumed, and read models built from them."""
from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text

from shared.types import UTCDateTime

metadata = MetaData()

# Every event consumed, kept so that read models can be rebuilt from scratch.
event_log = Table(
    "event_log", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False, unique=True),
    Column("event_type", String(120), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("correlation_id", String(64), nullable=False),
    Column("envelope", Text, nullable=False),
)

directive_summary = Table(
    "rm_directives", metadata,
    Column("directive_id", String(36), primary_key=True),
    Column("document_number", String(120), nullable=False),
    Column("title_th", Text, nullable=False),
    Column("issued_at", UTCDateTime(), nullable=False),
    Column("addressee_count", Integer, nullable=False),
)

# One row per (directive, unit): where that addressee stands.
directive_units = Table(
    "rm_directive_units", metadata,
    Column("directive_id", String(36), primary_key=True),
    Column("unit_code", String(32), primary_key=True),
    Column("assignment_id", String(36), nullable=True),
    Column("assigned_at", UTCDateTime(), nullable=True),
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Column("obligation_id", String(36), nullable=True),
    Column("due_at", UTCDateTime(), nullable=True),
    # pending | on_time | late | missed
    Column("report_status", String(16), nullable=False, server_default="pending"),
    Column("submitted_at", UTCDateTime(), nullable=True),
    Column("missed_at", UTCDateTime(), nullable=True),
    Column("reminders_sent", Integer, nullable=False, server_default="0"),
    Column("escalations_sent", Integer, nullable=False, server_default="0"),
)
Index("ix_rm_directive_units_obligation", directive_units.c.obligation_id)
