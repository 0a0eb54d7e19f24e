"""The annual Local Performance Assessment: frameworks per BE year, rounds, each LAO's assessment with
its self-assessment entries, evidence, assessor teams and follow-ups of weak areas (issue #19)

Revision ID: 0005_lpa
Revises: 0004_org_unit_versions
Create Date: 2026-12-08 00:30:00
"""
import sqlalchemy as sa
from alembic import op

from shared.types import UTCDateTime

revision = "0005_lpa"
down_revision = "0004_org_unit_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lpa_frameworks",
        sa.Column("year_be", sa.Integer(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name_th", sa.Text(), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.Column("imported_by", sa.String(64), nullable=True),
    )
    op.create_table(
        "lpa_rounds",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("year_be", sa.Integer(), sa.ForeignKey("lpa_frameworks.year_be"), nullable=False, unique=True),
        sa.Column("scope_code", sa.String(32), nullable=False),
        sa.Column("self_opens_at", UTCDateTime(), nullable=False),
        sa.Column("self_due_at", UTCDateTime(), nullable=False),
        sa.Column("visit_from", sa.Date(), nullable=False),
        sa.Column("visit_to", sa.Date(), nullable=False),
        sa.Column("publish_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "lpa_assessments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("round_id", sa.String(36), sa.ForeignKey("lpa_rounds.id"), nullable=False),
        sa.Column("unit_code", sa.String(32), nullable=False),
        sa.Column("lao_type", sa.String(32), nullable=True),
        sa.Column("province_code", sa.String(32), nullable=True),
        sa.Column("district_code", sa.String(32), nullable=True),
        sa.Column("obligation_id", sa.String(36), nullable=True),
        sa.Column("self_state", sa.String(16), nullable=False),
        sa.Column("self_submitted_at", UTCDateTime(), nullable=True),
        sa.Column("self_on_time", sa.Boolean(), nullable=True),
        sa.Column("team_id", sa.String(36), nullable=True),
        sa.Column("score_state", sa.String(16), nullable=False),
        sa.Column("finalised_at", UTCDateTime(), nullable=True),
        sa.Column("finalised_by", sa.String(64), nullable=True),
        sa.Column("returned_reason", sa.Text(), nullable=True),
        sa.Column("points", sa.Float(), nullable=True),
        sa.Column("max_points", sa.Float(), nullable=True),
        sa.Column("pass_value", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("totals", sa.Text(), nullable=True),
        sa.Column("rank_province", sa.Integer(), nullable=True),
        sa.Column("rank_lao_type", sa.Integer(), nullable=True),
        sa.UniqueConstraint("round_id", "unit_code", name="uq_lpa_assessment_unit"),
    )
    op.create_index("ix_lpa_assessments_province", "lpa_assessments", ["round_id", "province_code"])
    op.create_index("ix_lpa_assessments_team", "lpa_assessments", ["team_id"])
    op.create_table(
        "lpa_entries",
        sa.Column("assessment_id", sa.String(36), sa.ForeignKey("lpa_assessments.id"), primary_key=True),
        sa.Column("indicator_code", sa.String(64), primary_key=True),
        sa.Column("claimed_points", sa.Float(), nullable=True),
        sa.Column("claim_note", sa.Text(), nullable=True),
        sa.Column("points", sa.Float(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("scored_by", sa.String(64), nullable=True),
        sa.Column("scored_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "lpa_evidence",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("assessment_id", sa.String(36), sa.ForeignKey("lpa_assessments.id"), nullable=False),
        sa.Column("indicator_code", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("content_type", sa.String(120), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("uploaded_by", sa.String(64), nullable=True),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_lpa_evidence_assessment", "lpa_evidence", ["assessment_id", "indicator_code"])
    op.create_table(
        "lpa_teams",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("round_id", sa.String(36), sa.ForeignKey("lpa_rounds.id"), nullable=False),
        sa.Column("province_code", sa.String(32), nullable=False),
        sa.Column("visit_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("finalised_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "lpa_team_members",
        sa.Column("team_id", sa.String(36), sa.ForeignKey("lpa_teams.id"), primary_key=True),
        sa.Column("person", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("unit_code", sa.String(32), nullable=True),
        sa.Column("name_th", sa.Text(), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
    )
    op.create_table(
        "lpa_follow_ups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("assessment_id", sa.String(36), sa.ForeignKey("lpa_assessments.id"), nullable=False),
        sa.Column("round_id", sa.String(36), nullable=False),
        sa.Column("unit_code", sa.String(32), nullable=False),
        sa.Column("area_code", sa.String(32), nullable=False),
        sa.Column("percent", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("obligation_id", sa.String(36), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("plan_th", sa.Text(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("assessment_id", "area_code", name="uq_lpa_follow_up_area"),
    )
    op.create_index("ix_lpa_follow_ups_unit", "lpa_follow_ups", ["unit_code"])


def downgrade() -> None:
    for name in ("lpa_follow_ups", "lpa_team_members", "lpa_teams", "lpa_evidence", "lpa_entries",
                 "lpa_assessments", "lpa_rounds", "lpa_frameworks"):
        op.drop_table(name)
