"""tracked_lpa_visits: which LPA assessor team visits an LAO in a round, to tell its lead and
province when DLA returns the assessment (issue #19)

Revision ID: 0004_tracked_lpa_visits
Revises: 0003_org_unit_versions
Create Date: 2026-12-08 01:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_tracked_lpa_visits"
down_revision = "0003_org_unit_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tracked_lpa_visits",
        sa.Column("round_id", sa.String(length=36), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=36), nullable=False),
        sa.Column("year_be", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=32), nullable=True),
        sa.Column("visit_on", sa.String(length=10), nullable=False),
        sa.Column("lead_code", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("round_id", "unit_code"),
    )


def downgrade() -> None:
    op.drop_table("tracked_lpa_visits")
