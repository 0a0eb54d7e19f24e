"""Tables of the plans service (its own database)."""
from __future__ import annotations

from sqlalchemy import (Column, Date, ForeignKey, Index, Integer, MetaData, String, Table,
                        Text, UniqueConstraint)

from shared.types import UTCDateTime

metadata = MetaData()

# One row per version of a unit: a rename, upgrade or merge closes the old row (valid_to) and
# opens a new one, so history is kept and never overwritten.
org_units = Table(
    "org_units", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(32), nullable=False),
    Column("level", String(32), nullable=False),
    Column("lao_type", String(32), nullable=True),
    Column("parent_code", String(32), nullable=True),
    Column("name_th", Text, nullable=False),
    Column("name_en", Text, nullable=True),
    Column("province_code", String(16), nullable=True),
    Column("district_code", String(16), nullable=True),
    Column("subdistrict_code", String(16), nullable=True),
    Column("contact_email", String(200), nullable=True),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    UniqueConstraint("code", "valid_from", name="uq_org_units_code_valid_from"),
)
Index("ix_org_units_current", org_units.c.code, org_units.c.valid_to)
Index("ix_org_units_parent", org_units.c.parent_code)

documents = Table(
    "documents", metadata,
    Column("id", String(36), primary_key=True),
    Column("number_printed", String(120), nullable=False),
    Column("document_date", Date, nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("subject_th", Text, nullable=False),
    Column("sender_code", String(32), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

directives = Table(
    "directives", metadata,
    Column("id", String(36), primary_key=True),
    Column("document_id", String(36), ForeignKey("documents.id"), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("text_th", Text, nullable=False),
    Column("issuer_code", String(32), nullable=False),
    Column("addressees", Text, nullable=False),       # the addressee rule as given (JSON)
    Column("acknowledge_due_at", UTCDateTime(), nullable=True),
    Column("reporting", Text, nullable=True),          # reporting requirement (JSON) or null
    Column("issued_at", UTCDateTime(), nullable=False),
    Column("correlation_id", String(64), nullable=False),
)

assignments = Table(
    "assignments", metadata,
    Column("id", String(36), primary_key=True),
    Column("directive_id", String(36), ForeignKey("directives.id"), nullable=False),
    Column("unit_code", String(32), nullable=False),
    Column("parent_assignment_id", String(36), nullable=True),
    Column("state", String(24), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Column("receipt_number", String(32), nullable=True),
    UniqueConstraint("directive_id", "unit_code", name="uq_assignments_directive_unit"),
)
Index("ix_assignments_unit", assignments.c.unit_code)
