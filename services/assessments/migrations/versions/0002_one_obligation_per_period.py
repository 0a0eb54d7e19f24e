"""One obligation per unit, indicator and period; returned reports have a resubmission deadline;
a rule may be limited to one fiscal year (issue #15, items 7, 10 and 11)

Existing rows are put right before the unique index is created: period labels get their one
spelling (``ธ.ค. 2569`` → ``2569-12``), and of two live obligations for the same unit, indicator
and period the one reported on (else the older) stays and the other is cancelled. Nothing is
published for these (a migration has no outbox); rebuild reporting afterwards if there were any
(``thongthin rebuild reporting`` keeps what its events said).

Revision ID: 0002_one_obligation_per_period
Revises: 85ffd91df82d
Create Date: 2026-12-07 17:20:00
"""
import sqlalchemy as sa
from alembic import op

import shared.types
from services.assessments.schedule import canonical_period, period_bounds

revision = "0002_one_obligation_per_period"
down_revision = "85ffd91df82d"
branch_labels = None
depends_on = None

# Whichever has been reported on stays.
_PROGRESS = {"accepted": 0, "submitted": 1, "returned": 2, "missed": 3, "open": 4}


def upgrade() -> None:
    op.add_column("obligations", sa.Column("resubmit_due_at", shared.types.UTCDateTime(), nullable=True))
    op.add_column("rules", sa.Column("fiscal_year_be", sa.Integer(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, unit_code, indicator_code, period, state, created_at FROM obligations "
        "WHERE state <> 'cancelled'")).mappings().all()
    groups: dict[tuple, list] = {}
    for row in rows:
        groups.setdefault((row["unit_code"], row["indicator_code"], canonical_period(row["period"])), []).append(row)
    for (_, _, period), group in groups.items():
        group.sort(key=lambda row: (_PROGRESS.get(row["state"], 5), str(row["created_at"])))
        kept, *others = group
        for other in others:
            connection.execute(sa.text("UPDATE obligations SET state = 'cancelled' WHERE id = :id"), {"id": other["id"]})
        if kept["period"] != period:
            start, end = period_bounds(period)
            connection.execute(sa.text(
                "UPDATE obligations SET period = :period, period_start = COALESCE(period_start, :start), "
                "period_end = COALESCE(period_end, :end) WHERE id = :id"),
                {"period": period, "start": start, "end": end, "id": kept["id"]})
    op.create_index("uq_obligations_unit_indicator_period", "obligations", ["unit_code", "indicator_code", "period"],
                    unique=True, sqlite_where=sa.text("state <> 'cancelled'"),
                    postgresql_where=sa.text("state <> 'cancelled'"))


def downgrade() -> None:
    op.drop_index("uq_obligations_unit_indicator_period", table_name="obligations")
    with op.batch_alter_table("rules") as batch:
        batch.drop_column("fiscal_year_be")
    with op.batch_alter_table("obligations") as batch:
        batch.drop_column("resubmit_due_at")
