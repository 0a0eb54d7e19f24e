"""The registry copy keeps every version of a unit, keyed (code, valid_from), with its revision,
change kind and successor links; a cancelled obligation says why (issue #16)

The one row per code there was becomes that code's version from its valid_from (revision 0: any
event received again replaces it). Runs on SQLite and PostgreSQL: the table is rebuilt under its
new key (copy, drop, rename), not altered in place.

Revision ID: 0004_org_unit_versions
Revises: 0003_rpc_results
Create Date: 2026-12-07 21:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_org_unit_versions"
down_revision = "0003_rpc_results"
branch_labels = None
depends_on = None


def _versions_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("lao_type", sa.String(length=32), nullable=True),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("change_kind", sa.String(length=16), nullable=False, server_default="updated"),
        sa.Column("predecessor_codes", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("successor_codes", sa.Text(), nullable=False, server_default="[]"),
        sa.PrimaryKeyConstraint("code", "valid_from", name=f"pk_{name}"),
    )


def upgrade() -> None:
    _versions_table("org_unit_versions_new")
    op.execute("INSERT INTO org_unit_versions_new (code, valid_from, level, lao_type, parent_code, valid_to) "
               "SELECT code, valid_from, level, lao_type, parent_code, valid_to FROM org_units")
    op.drop_index("ix_org_units_parent", table_name="org_units")
    op.drop_table("org_units")
    op.rename_table("org_unit_versions_new", "org_units")
    op.create_index("ix_org_units_parent", "org_units", ["parent_code"], unique=False)
    with op.batch_alter_table("obligations") as batch:
        batch.add_column(sa.Column("cancel_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("cancel_cause", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("obligations") as batch:
        batch.drop_column("cancel_cause")
        batch.drop_column("cancel_reason")
    op.create_table(
        "org_units_one",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("lao_type", sa.String(length=32), nullable=True),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    # the latest version of each code stands for the unit
    op.execute("INSERT INTO org_units_one (code, level, lao_type, parent_code, valid_from, valid_to) "
               "SELECT v.code, v.level, v.lao_type, v.parent_code, v.valid_from, v.valid_to FROM org_units v "
               "WHERE v.valid_from = (SELECT MAX(w.valid_from) FROM org_units w WHERE w.code = v.code)")
    op.drop_index("ix_org_units_parent", table_name="org_units")
    op.drop_table("org_units")
    op.rename_table("org_units_one", "org_units")
    op.create_index("ix_org_units_parent", "org_units", ["parent_code"], unique=False)
