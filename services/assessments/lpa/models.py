"""Tables of the LPA (in the assessments service's database, on its metadata; migration 0005)."""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, Date, Float, ForeignKey, Index, Integer, LargeBinary, String, Table, Text,
                        UniqueConstraint)

from services.assessments.models import metadata
from shared.types import UTCDateTime

# One framework per BE year; importing the year again replaces it while no round of the year is open
# (version counts the imports). The document is the validated thongthin.lpa-framework/v1 JSON.
lpa_frameworks = Table(
    "lpa_frameworks", metadata,
    Column("year_be", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("name_th", Text, nullable=False),
    Column("synthetic", Boolean, nullable=False),
    Column("document", Text, nullable=False),
    Column("imported_at", UTCDateTime(), nullable=False),
    Column("imported_by", String(64), nullable=True),
)

# A round: central opens the year's assessment for every LAO under scope_code.
lpa_rounds = Table(
    "lpa_rounds", metadata,
    Column("id", String(36), primary_key=True),
    Column("year_be", Integer, ForeignKey("lpa_frameworks.year_be"), nullable=False, unique=True),
    Column("scope_code", String(32), nullable=False),
    Column("self_opens_at", UTCDateTime(), nullable=False),
    Column("self_due_at", UTCDateTime(), nullable=False),      # self-assessment and evidence
    Column("visit_from", Date, nullable=False),
    Column("visit_to", Date, nullable=False),
    Column("publish_on", Date, nullable=False),
    Column("state", String(16), nullable=False),               # open, published
    Column("opened_by", String(64), nullable=True),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("published_at", UTCDateTime(), nullable=True),
)

# One LAO in one round: its self-assessment, its team's scoring, its result.
lpa_assessments = Table(
    "lpa_assessments", metadata,
    Column("id", String(36), primary_key=True),
    Column("round_id", String(36), ForeignKey("lpa_rounds.id"), nullable=False),
    Column("unit_code", String(32), nullable=False),
    Column("lao_type", String(32), nullable=True),
    Column("province_code", String(32), nullable=True),       # the provincial office above the LAO
    Column("district_code", String(32), nullable=True),       # the district office above the LAO
    Column("obligation_id", String(36), nullable=True),       # the self-assessment as an obligation
    Column("self_state", String(16), nullable=False),          # draft, submitted
    Column("self_submitted_at", UTCDateTime(), nullable=True),
    Column("self_on_time", Boolean, nullable=True),
    Column("team_id", String(36), nullable=True),
    Column("score_state", String(16), nullable=False),         # pending, draft, finalised, returned
    Column("finalised_at", UTCDateTime(), nullable=True),
    Column("finalised_by", String(64), nullable=True),
    Column("returned_reason", Text, nullable=True),
    Column("points", Float, nullable=True),
    Column("max_points", Float, nullable=True),
    Column("pass_value", Float, nullable=True),
    Column("passed", Boolean, nullable=True),
    Column("totals", Text, nullable=True),                     # JSON: per area
    Column("rank_province", Integer, nullable=True),
    Column("rank_lao_type", Integer, nullable=True),
    UniqueConstraint("round_id", "unit_code", name="uq_lpa_assessment_unit"),
)
Index("ix_lpa_assessments_province", lpa_assessments.c.round_id, lpa_assessments.c.province_code)
Index("ix_lpa_assessments_team", lpa_assessments.c.team_id)

# Per indicator: the LAO's claim and the team's score.
lpa_entries = Table(
    "lpa_entries", metadata,
    Column("assessment_id", String(36), ForeignKey("lpa_assessments.id"), primary_key=True),
    Column("indicator_code", String(64), primary_key=True),
    Column("claimed_points", Float, nullable=True),
    Column("claim_note", Text, nullable=True),
    Column("points", Float, nullable=True),
    Column("comment", Text, nullable=True),
    Column("scored_by", String(64), nullable=True),
    Column("scored_at", UTCDateTime(), nullable=True),
)

lpa_evidence = Table(
    "lpa_evidence", metadata,
    Column("id", String(36), primary_key=True),
    Column("assessment_id", String(36), ForeignKey("lpa_assessments.id"), nullable=False),
    Column("indicator_code", String(64), nullable=False),
    Column("filename", String(255), nullable=True),
    Column("content_type", String(120), nullable=True),
    Column("size", Integer, nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("content", LargeBinary, nullable=True),
    Column("url", Text, nullable=True),                        # a link instead of a file
    Column("uploaded_by", String(64), nullable=True),
    Column("uploaded_at", UTCDateTime(), nullable=False),
)
Index("ix_lpa_evidence_assessment", lpa_evidence.c.assessment_id, lpa_evidence.c.indicator_code)

lpa_teams = Table(
    "lpa_teams", metadata,
    Column("id", String(36), primary_key=True),
    Column("round_id", String(36), ForeignKey("lpa_rounds.id"), nullable=False),
    Column("province_code", String(32), nullable=False),       # the provincial office that formed it
    Column("visit_on", Date, nullable=False),
    Column("state", String(16), nullable=False),               # draft, finalised
    Column("created_by", String(64), nullable=True),
    Column("finalised_at", UTCDateTime(), nullable=True),
)

lpa_team_members = Table(
    "lpa_team_members", metadata,
    Column("team_id", String(36), ForeignKey("lpa_teams.id"), primary_key=True),
    Column("person", String(64), primary_key=True),
    Column("role", String(32), nullable=False),                # lead, member, community_leader
    Column("unit_code", String(32), nullable=True),
    Column("name_th", Text, nullable=True),
    Column("email", String(254), nullable=True),
)

# A weak area of a finalised, published result: the LAO's improvement plan and its due date.
lpa_follow_ups = Table(
    "lpa_follow_ups", metadata,
    Column("id", String(36), primary_key=True),
    Column("assessment_id", String(36), ForeignKey("lpa_assessments.id"), nullable=False),
    Column("round_id", String(36), nullable=False),
    Column("unit_code", String(32), nullable=False),
    Column("area_code", String(32), nullable=False),
    Column("percent", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("obligation_id", String(36), nullable=True),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("plan_th", Text, nullable=True),
    Column("state", String(16), nullable=False),               # open, closed
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    UniqueConstraint("assessment_id", "area_code", name="uq_lpa_follow_up_area"),
)
Index("ix_lpa_follow_ups_unit", lpa_follow_ups.c.unit_code)
