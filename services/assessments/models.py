"""Tables of the assessments service (its own database)."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, MetaData, String, Table, Text, UniqueConstraint

from shared.types import UTCDateTime

metadata = MetaData()

obligations = Table(
    "obligations", metadata,
    Column("id", String(36), primary_key=True),
    Column("unit_code", String(32), nullable=False),
    Column("directive_id", String(36), nullable=True),
    Column("assignment_id", String(36), nullable=True),
    Column("indicator_code", String(64), nullable=False),
    Column("indicator_name_th", Text, nullable=False),
    Column("period", String(32), nullable=False),
    Column("opens_at", UTCDateTime(), nullable=True),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("extended_due_at", UTCDateTime(), nullable=True),
    # open -> submitted (on time or late) | missed -> submitted (late)
    Column("state", String(16), nullable=False),
    Column("missed_at", UTCDateTime(), nullable=True),
    Column("correlation_id", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("unit_code", "assignment_id", "indicator_code", "period",
                     name="uq_obligations_unit_source_period"),
)
# The deadline sweep reads open obligations by due time.
Index("ix_obligations_state_due", obligations.c.state, obligations.c.due_at)
Index("ix_obligations_directive", obligations.c.directive_id)

submissions = Table(
    "submissions", metadata,
    Column("id", String(36), primary_key=True),
    Column("obligation_id", String(36), ForeignKey("obligations.id"), nullable=False),
    Column("unit_code", String(32), nullable=False),
    Column("submitted_by", String(64), nullable=True),
    Column("values", Text, nullable=False),       # JSON list of {indicator_code, value, note}
    Column("submitted_at", UTCDateTime(), nullable=False),
    Column("on_time", Boolean, nullable=False),
)
Index("ix_submissions_obligation", submissions.c.obligation_id)
