"""Tables of the plans service (its own database)."""
from __future__ import annotations

from sqlalchemy import (Boolean, CheckConstraint, Column, Date, ForeignKey, Index, Integer, LargeBinary, MetaData,
                        String, Table, Text, UniqueConstraint, false)

from shared.types import UTCDateTime

metadata = MetaData()

# One row per version of a unit, [valid_from, valid_to): a change effective on D ends the version
# holding on D at D and opens one from D (shared.unit_versions); versions of a code never overlap
# (checked before commit; an exclusion constraint on PostgreSQL, migration 0006) nor invert (CHECK).
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
    Column("head_name_th", Text, nullable=True),
    Column("head_email", String(200), nullable=True),
    Column("head_phone", String(20), nullable=True),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    # the change that made this version (shared.unit_versions.ChangeKind) and what it carries
    Column("revision", Integer, nullable=False, server_default="0"),
    Column("change_kind", String(16), nullable=False, server_default="opened"),
    Column("effective_date", Date, nullable=True),
    Column("predecessor_codes", Text, nullable=False, server_default="[]"),   # JSON list
    Column("successor_codes", Text, nullable=False, server_default="[]"),     # JSON list
    Column("reason", Text, nullable=True),
    Column("forced", Boolean, nullable=False, server_default=false()),
    Column("end_kind", String(16), nullable=True),                # the change that ended it (valid_to)
    UniqueConstraint("code", "valid_from", name="uq_org_units_code_valid_from"),
    CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="ck_org_units_valid_range"),
)
Index("ix_org_units_current", org_units.c.code, org_units.c.valid_to)
Index("ix_org_units_parent", org_units.c.parent_code)

# The last revision of each unit: every OrgUnitChanged about it carries the next one.
org_unit_revisions = Table(
    "org_unit_revisions", metadata,
    Column("code", String(32), primary_key=True),
    Column("revision", Integer, nullable=False),
)

# Periods a unit has reported (assessments.indicator_submitted.v1): a change that would rewrite how
# one of them is counted is refused unless central forces it with a reason.
reported_periods = Table(
    "reported_periods", metadata,
    Column("unit_code", String(32), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
)

documents = Table(
    "documents", metadata,
    Column("id", String(36), primary_key=True),
    Column("form", String(16), nullable=False),                 # memo | letter | circular | attachment
    Column("number_printed", String(160), nullable=True),       # as printed, Thai digits kept
    Column("number_normalized", String(160), nullable=True),    # Arabic digits, no "ที่", single spaces
    Column("circular", Boolean, nullable=False, server_default="0"),  # ว = หนังสือเวียน
    Column("document_date", Date, nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("subject_th", Text, nullable=False),
    Column("subject_en", Text, nullable=True),
    Column("sender_code", String(32), nullable=True),
    Column("sender_text", Text, nullable=True),                 # as printed
    Column("addressee_text", Text, nullable=True),              # as printed
    Column("references", Text, nullable=False, server_default="[]"),  # JSON: document ids
    Column("forwards_document_id", String(36), ForeignKey("documents.id"), nullable=True),
    Column("status", String(16), nullable=False, server_default="recorded"),  # recorded | referenced_only
    Column("anomalies", Text, nullable=False, server_default="[]"),   # JSON list of {code, message_th, message_en}
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(64), nullable=True),
    # the unit of the user who recorded it: only that unit (or central) attaches to it and issues it
    Column("recorded_by_unit", String(32), nullable=True),
)
Index("ix_documents_number", documents.c.number_normalized)

attachments = Table(
    "attachments", metadata,
    Column("id", String(36), primary_key=True),
    Column("document_id", String(36), ForeignKey("documents.id"), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(120), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
Index("ix_attachments_document", attachments.c.document_id)

directives = Table(
    "directives", metadata,
    Column("id", String(36), primary_key=True),
    Column("document_id", String(36), ForeignKey("documents.id"), nullable=False),
    Column("item_ref", String(64), nullable=True),              # numbering as printed, e.g. ๒. ข้อสั่งการ
    Column("kind", String(24), nullable=False),                 # order | guideline | observation | inspection_focus
    Column("issuer_code", String(32), nullable=False),
    Column("issuer_position_th", Text, nullable=True),
    Column("topic_th", Text, nullable=True),
    Column("text_th", Text, nullable=False),
    Column("text_en", Text, nullable=True),
    Column("addressees", Text, nullable=False),                 # the addressee rule as given (JSON)
    Column("acknowledge_due_at", UTCDateTime(), nullable=True),
    Column("reporting", Text, nullable=True),                   # one-off reporting requirement (JSON)
    Column("state", String(16), nullable=False, server_default="draft"),  # draft | issued | cancelled
    Column("issued_at", UTCDateTime(), nullable=True),
    Column("correlation_id", String(64), nullable=True),
)
Index("ix_directives_document", directives.c.document_id)

reporting_rules = Table(
    "reporting_rules", metadata,
    Column("id", String(36), primary_key=True),
    Column("directive_id", String(36), ForeignKey("directives.id"), nullable=False),
    Column("indicators", Text, nullable=False),                 # JSON list of IndicatorSpec
    Column("rrule", String(255), nullable=True),
    Column("dtstart", UTCDateTime(), nullable=True),
    Column("until", UTCDateTime(), nullable=True),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("due_time_local", String(5), nullable=False, server_default="16:30"),
    Column("window_opens_before", String(16), nullable=False, server_default="P10D"),
    Column("holiday_rule", String(24), nullable=False, server_default="next_working_day"),
    Column("reporting_level", String(32), nullable=True),
    Column("fiscal_year_be", Integer, nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
)

assignments = Table(
    "assignments", metadata,
    Column("id", String(36), primary_key=True),
    Column("directive_id", String(36), ForeignKey("directives.id"), nullable=False),
    Column("unit_code", String(32), nullable=False),
    Column("unit_level", String(32), nullable=False),
    Column("parent_assignment_id", String(36), nullable=True),
    Column("state", String(24), nullable=False),
    Column("applicable", Boolean, nullable=True),
    Column("applicability_note", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=True),
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Column("forwarded_at", UTCDateTime(), nullable=True),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("receipt_number", String(32), nullable=True),
    UniqueConstraint("directive_id", "unit_code", name="uq_assignments_directive_unit"),
)
Index("ix_assignments_unit", assignments.c.unit_code)
Index("ix_assignments_parent", assignments.c.parent_assignment_id)

# ทะเบียนรับ: each unit keeps its own register; numbers restart every calendar year.
receipts = Table(
    "receipts", metadata,
    Column("id", String(36), primary_key=True),
    Column("unit_code", String(32), nullable=False),
    Column("document_id", String(36), ForeignKey("documents.id"), nullable=False),
    Column("assignment_id", String(36), nullable=True),
    Column("receipt_no", String(32), nullable=False),          # Arabic digits, zero padding kept ("002")
    Column("register_year_be", Integer, nullable=False),
    Column("received_on", Date, nullable=False),
    Column("received_time", String(5), nullable=True),          # HH:MM, often blank on stamps
    Column("channel", String(24), nullable=False, server_default="paper"),
    Column("routed_from_receipt_id", String(36), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("unit_code", "register_year_be", "receipt_no", name="uq_receipts_unit_year_number"),
)
Index("ix_receipts_document", receipts.c.document_id)
