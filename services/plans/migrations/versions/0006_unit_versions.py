"""org units over time (issue #16): each version says what change made it (kind, effective date,
predecessors, successors, reason, forced) and the unit's revision; versions never invert (CHECK on
both stores) nor overlap (an exclusion constraint on PostgreSQL when btree_gist can be created);
the per-unit revision counter; the periods each unit has reported (from assessments), which a
change may not rewrite unless forced.

Versions inverted by the old closing (valid_to before valid_from) are repaired first: the inverted
row goes, and the version it followed ends on the day the closing asked for.

Revision ID: 0006_unit_versions
Revises: 0005_rpc_results
Create Date: 2026-12-07 21:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = "0006_unit_versions"
down_revision = "0005_rpc_results"
branch_labels = None
depends_on = None


def _repair_inverted(bind) -> None:
    rows = bind.execute(sa.text("SELECT id, code, valid_from, valid_to FROM org_units "
                                "WHERE valid_to IS NOT NULL AND valid_to <= valid_from")).all()
    for row_id, code, valid_from, valid_to in rows:
        previous = bind.execute(sa.text(
            "SELECT id, valid_from FROM org_units WHERE code = :code AND valid_to = :start AND id <> :id"),
            {"code": code, "start": valid_from, "id": row_id}).first()
        bind.execute(sa.text("DELETE FROM org_units WHERE id = :id"), {"id": row_id})
        if previous is not None and str(previous[1]) < str(valid_to):
            bind.execute(sa.text("UPDATE org_units SET valid_to = :end WHERE id = :id"),
                         {"end": valid_to, "id": previous[0]})


def upgrade() -> None:
    bind = op.get_bind()
    _repair_inverted(bind)
    with op.batch_alter_table("org_units") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("change_kind", sa.String(length=16), nullable=False, server_default="opened"))
        batch.add_column(sa.Column("effective_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("predecessor_codes", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("successor_codes", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("forced", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("end_kind", sa.String(length=16), nullable=True))
        batch.create_check_constraint("ck_org_units_valid_range", "valid_to IS NULL OR valid_to > valid_from")
    op.create_table(
        "org_unit_revisions",
        sa.Column("code", sa.String(length=32), primary_key=True),
        sa.Column("revision", sa.Integer(), nullable=False),
    )
    op.create_table(
        "reported_periods",
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "period"),
    )
    if bind.dialect.name == "postgresql":
        # Versions of one code never overlap. btree_gist may need a superuser: without it the
        # domain check (shared.unit_versions.check_versions) is the only guard.
        savepoint = bind.begin_nested()
        try:
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS btree_gist"))
            bind.execute(sa.text(
                "ALTER TABLE org_units ADD CONSTRAINT ex_org_units_no_overlap EXCLUDE USING gist "
                "(code WITH =, daterange(valid_from, valid_to, '[)') WITH &&)"))
            savepoint.commit()
        except sa.exc.DBAPIError:
            savepoint.rollback()


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("ALTER TABLE org_units DROP CONSTRAINT IF EXISTS ex_org_units_no_overlap"))
    op.drop_table("reported_periods")
    op.drop_table("org_unit_revisions")
    with op.batch_alter_table("org_units") as batch:
        batch.drop_constraint("ck_org_units_valid_range", type_="check")
        for column in ("end_kind", "forced", "reason", "successor_codes", "predecessor_codes", "effective_date", "change_kind",
                       "revision"):
            batch.drop_column(column)
