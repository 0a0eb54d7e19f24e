"""A returned report is its own status (issue #15 item 11): rm_obligations.returned_at, and the
generated status column recomputed with 'returned' (awaiting resubmission, never 'missing')

The status column is generated from the facts, so it is dropped and added again with the new rule
(with the indexes that cover it). PostgreSQL stores it as before; SQLite cannot add a STORED
generated column to an existing table, so on SQLite it becomes VIRTUAL (computed on read, still
indexed: the covering indexes hold it). Obligations returned before this migration have no
``returned_at``: ``thongthin rebuild reporting`` replays their reviews and sets it.

Revision ID: 0005_returned_status
Revises: 0004_national_rollup_index
Create Date: 2026-12-07 17:30:00
"""
import sqlalchemy as sa
from alembic import op

import shared.types

revision = "0005_returned_status"
down_revision = "0004_national_rollup_index"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_rm_obligations_district_period": ["district_unit", "period", "unit_code", "status"],
    "ix_rm_obligations_period_province": ["period", "province_unit", "status", "extended", "returned", "lao_type",
                                          "rule_id"],
    "ix_rm_obligations_province_period": ["province_unit", "period", "district_unit", "status", "extended",
                                          "returned", "lao_type", "rule_id"],
    "ix_rm_obligations_status_due": ["status", "due_at"],
    "ix_rm_obligations_status_rollup": ["status", "province_unit", "lao_type", "extended", "returned"],
}


def _replace_status(expression: str) -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="rm_obligations")
    op.execute("ALTER TABLE rm_obligations DROP COLUMN status")
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE rm_obligations ADD COLUMN status VARCHAR(12) GENERATED ALWAYS AS ({expression}) VIRTUAL")
    else:
        op.execute(f"ALTER TABLE rm_obligations ADD COLUMN status VARCHAR(12) GENERATED ALWAYS AS ({expression}) STORED "
                   "NOT NULL")
    for name, columns in _INDEXES.items():
        op.create_index(name, "rm_obligations", columns)


# models.STATUS_SQL as of this revision (a migration does not follow later changes of the model)
STATUS_SQL = (
    "CASE WHEN cancelled = 1 THEN 'cancelled' "
    "WHEN returned_at IS NOT NULL AND (last_submitted_at IS NULL OR returned_at >= last_submitted_at) "
    "THEN 'returned' "
    "WHEN last_submitted_at IS NOT NULL AND (missed_at IS NULL OR last_submitted_at >= missed_at) "
    "THEN (CASE WHEN last_on_time = 1 THEN 'on_time' ELSE 'late' END) "
    "WHEN missed_at IS NOT NULL AND (extended_due_at IS NULL OR missed_due_at >= extended_due_at) THEN 'missing' "
    "WHEN last_submitted_at IS NOT NULL THEN (CASE WHEN last_on_time = 1 THEN 'on_time' ELSE 'late' END) "
    "ELSE 'pending' END")


def upgrade() -> None:
    op.add_column("rm_obligations", sa.Column("returned_at", shared.types.UTCDateTime(), nullable=True))
    _replace_status(STATUS_SQL)


_STATUS_BEFORE = (
    "CASE WHEN cancelled = 1 THEN 'cancelled' "
    "WHEN last_submitted_at IS NOT NULL AND (missed_at IS NULL OR last_submitted_at >= missed_at) "
    "THEN (CASE WHEN last_on_time = 1 THEN 'on_time' ELSE 'late' END) "
    "WHEN missed_at IS NOT NULL AND (extended_due_at IS NULL OR missed_due_at >= extended_due_at) THEN 'missing' "
    "WHEN last_submitted_at IS NOT NULL THEN (CASE WHEN last_on_time = 1 THEN 'on_time' ELSE 'late' END) "
    "ELSE 'pending' END")


def downgrade() -> None:
    _replace_status(_STATUS_BEFORE)
    op.execute("ALTER TABLE rm_obligations DROP COLUMN returned_at")
