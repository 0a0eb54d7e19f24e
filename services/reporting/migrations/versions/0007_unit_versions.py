"""The registry over time (issue #16): every version of every unit, keyed (code, valid_from), so that
each period counts a unit under the version valid in it (its LAO type, district and province)

The table is filled from rm_units (each unit's one version so far, revision 0); run
`thongthin rebuild reporting` after upgrading so that obligations, values and yearly aggregates
take the keys of their period's version from the versions in event_log.

Revision ID: 0007_unit_versions
Revises: 0006_cascade_received
Create Date: 2026-12-07 21:30:00
"""
from alembic import op
import sqlalchemy as sa
import shared.types


revision = "0007_unit_versions"
down_revision = "0006_cascade_received"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rm_unit_versions",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("revision", sa.Integer(), server_default="0", nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("lao_type", sa.String(length=32), nullable=True),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column("name_th", sa.Text(), nullable=False),
        sa.Column("province_code", sa.String(length=16), nullable=True),
        sa.Column("district_code", sa.String(length=16), nullable=True),
        sa.Column("province_unit", sa.String(length=32), nullable=True),
        sa.Column("district_unit", sa.String(length=32), nullable=True),
        sa.Column("change_kind", sa.String(length=16), nullable=True),
        sa.Column("successor_codes", sa.Text(), nullable=True),
        sa.Column("forced", sa.Integer(), server_default="0", nullable=False),
        sa.Column("changed_at", shared.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("superseded", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("code", "valid_from"),
    )
    with op.batch_alter_table("rm_unit_versions") as batch_op:
        batch_op.create_index("ix_rm_unit_versions_parent", ["parent_code"], unique=False)
    op.execute(
        "INSERT INTO rm_unit_versions (code, valid_from, valid_to, revision, level, lao_type, parent_code, name_th, "
        "province_code, district_code, province_unit, district_unit, change_kind, forced, changed_at) "
        "SELECT code, valid_from, valid_to, 0, level, lao_type, parent_code, name_th, province_code, district_code, "
        "province_unit, district_unit, 'updated', 0, changed_at FROM rm_units WHERE valid_from IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("rm_unit_versions") as batch_op:
        batch_op.drop_index("ix_rm_unit_versions_parent")
    op.drop_table("rm_unit_versions")
