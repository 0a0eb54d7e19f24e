"""The Local Performance Assessment's read models (issue #19): rm_lpa_rounds, rm_lpa_results,
rm_lpa_areas, rm_lpa_follow_ups, projected from the assessments.lpa_* events (projection.lpa)

Events of LPA rounds consumed before this migration are in event_log: `thongthin rebuild reporting`
projects them.

Revision ID: 0008_lpa
Revises: 0007_unit_versions
Create Date: 2026-12-08 01:00:00
"""
from alembic import op
import sqlalchemy as sa
import shared.types


revision = "0008_lpa"
down_revision = "0007_unit_versions"
branch_labels = None
depends_on = None

_RESULT_INDEXES = {
    "ix_rm_lpa_results_province": ["year_be", "province_code", "district_code"],
    "ix_rm_lpa_results_type": ["year_be", "lao_type"],
    "ix_rm_lpa_results_rank": ["year_be", "pass_value", "unit_code"],
    "ix_rm_lpa_results_unit": ["unit_code", "year_be"],
}
_FOLLOW_UP_INDEXES = {
    "ix_rm_lpa_follow_ups_assessment": ["assessment_id"],
    "ix_rm_lpa_follow_ups_year": ["year_be", "unit_code"],
}


def upgrade() -> None:
    moment = shared.types.UTCDateTime(timezone=True)
    op.create_table(
        "rm_lpa_rounds",
        sa.Column("year_be", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.String(length=36), nullable=False),
        sa.Column("name_th", sa.Text(), nullable=True),
        sa.Column("scope_code", sa.String(length=32), nullable=True),
        sa.Column("units", sa.Integer(), nullable=True),
        sa.Column("self_due_at", moment, nullable=True),
        sa.Column("visit_from", sa.Date(), nullable=True),
        sa.Column("visit_to", sa.Date(), nullable=True),
        sa.Column("publish_on", sa.Date(), nullable=True),
        sa.Column("opened_at", moment, nullable=True),
        sa.Column("published_at", moment, nullable=True),
        sa.Column("assessed", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("year_be"),
    )
    op.create_table(
        "rm_lpa_results",
        sa.Column("assessment_id", sa.String(length=36), nullable=False),
        sa.Column("round_id", sa.String(length=36), nullable=True),
        sa.Column("year_be", sa.Integer(), nullable=True),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("lao_type", sa.String(length=32), nullable=True),
        sa.Column("province_code", sa.String(length=32), nullable=True),
        sa.Column("district_code", sa.String(length=32), nullable=True),
        sa.Column("points", sa.Float(), nullable=True),
        sa.Column("max_points", sa.Float(), nullable=True),
        sa.Column("pass_value", sa.Float(), nullable=True),
        sa.Column("passed", sa.Integer(), nullable=True),
        sa.Column("areas", sa.Text(), nullable=True),
        sa.Column("finalised_at", moment, nullable=True),
        sa.Column("returned_at", moment, nullable=True),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("self_submitted_at", moment, nullable=True),
        sa.Column("self_on_time", sa.Integer(), nullable=True),
        sa.Column("claimed_percent", sa.Float(), nullable=True),
        sa.Column("evidence", sa.Integer(), nullable=True),
        sa.Column("rank_province", sa.Integer(), nullable=True),
        sa.Column("rank_lao_type", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("assessment_id"),
    )
    op.create_table(
        "rm_lpa_areas",
        sa.Column("assessment_id", sa.String(length=36), nullable=False),
        sa.Column("area_code", sa.String(length=32), nullable=False),
        sa.Column("name_th", sa.Text(), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("max_points", sa.Float(), nullable=False),
        sa.Column("percent", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("assessment_id", "area_code"),
    )
    op.create_table(
        "rm_lpa_follow_ups",
        sa.Column("follow_up_id", sa.String(length=36), nullable=False),
        sa.Column("assessment_id", sa.String(length=36), nullable=True),
        sa.Column("year_be", sa.Integer(), nullable=True),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("area_code", sa.String(length=32), nullable=True),
        sa.Column("area_name_th", sa.Text(), nullable=True),
        sa.Column("percent", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("due_at", moment, nullable=True),
        sa.Column("opened_at", moment, nullable=True),
        sa.Column("closed_at", moment, nullable=True),
        sa.PrimaryKeyConstraint("follow_up_id"),
    )
    for table, indexes in (("rm_lpa_results", _RESULT_INDEXES), ("rm_lpa_follow_ups", _FOLLOW_UP_INDEXES)):
        with op.batch_alter_table(table) as batch_op:
            for name, columns in indexes.items():
                batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    for table, indexes in (("rm_lpa_results", _RESULT_INDEXES), ("rm_lpa_follow_ups", _FOLLOW_UP_INDEXES)):
        with op.batch_alter_table(table) as batch_op:
            for name in indexes:
                batch_op.drop_index(name)
    op.drop_table("rm_lpa_follow_ups")
    op.drop_table("rm_lpa_areas")
    op.drop_table("rm_lpa_results")
    op.drop_table("rm_lpa_rounds")
