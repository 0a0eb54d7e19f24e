"""login failures counted per username, known or not (a lockout must not tell who exists)

Revision ID: 0004_login_failures
Revises: 0003_idempotency_keys
Create Date: 2026-12-07 17:00:00
"""
from alembic import op
import sqlalchemy as sa

import shared.types


revision = "0004_login_failures"
down_revision = "0003_idempotency_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", shared.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", shared.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_index("ix_login_failures_last", "login_failures", ["last_failed_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_login_failures_last", table_name="login_failures")
    op.drop_table("login_failures")
