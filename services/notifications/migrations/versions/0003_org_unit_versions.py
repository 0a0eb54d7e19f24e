"""org_unit_versions: every version of an org unit, keyed (code, valid_from), the highest revision
standing; recipients keep the day their unit closed (issue #16)

Revision ID: 0003_org_unit_versions
Revises: 0002_selective_indexes
Create Date: 2026-12-07 21:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_org_unit_versions"
down_revision = "0002_selective_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_unit_versions",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("valid_from", sa.String(length=10), nullable=False),
        sa.Column("valid_to", sa.String(length=10), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("change_kind", sa.String(length=16), nullable=False, server_default="updated"),
        sa.Column("successor_codes", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("version", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("code", "valid_from"),
    )


def downgrade() -> None:
    op.drop_table("org_unit_versions")
