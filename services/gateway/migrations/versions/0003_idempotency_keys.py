"""idempotency_keys: the stored responses of writes sent with an Idempotency-Key (issue #17)

Revision ID: 0003_idempotency_keys
Revises: 0002_audit_before
Create Date: 2026-12-07 17:00:00
"""
from alembic import op
import sqlalchemy as sa

import shared.types


revision = "0003_idempotency_keys"
down_revision = "0002_audit_before"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at", shared.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", shared.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", shared.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", "key"),
    )
    op.create_index("ix_idempotency_expires_at", "idempotency_keys", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_idempotency_expires_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
