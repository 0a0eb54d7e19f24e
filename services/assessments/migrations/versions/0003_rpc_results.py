"""rpc_results: write RPCs' results under their idempotency key, stored with the effect (issue #17)

Revision ID: 0003_rpc_results
Revises: 0002_one_obligation_per_period
Create Date: 2026-12-07 17:00:00
"""
from alembic import op
import sqlalchemy as sa

import shared.types


revision = "0003_rpc_results"
down_revision = "0002_one_obligation_per_period"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rpc_results",
        sa.Column("call", sa.String(length=120), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("committed_at", shared.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("call", "idempotency_key", "request_hash"),
    )
    op.create_index("ix_rpc_results_committed_at", "rpc_results", ["committed_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_rpc_results_committed_at", table_name="rpc_results")
    op.drop_table("rpc_results")
