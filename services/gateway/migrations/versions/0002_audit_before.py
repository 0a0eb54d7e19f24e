"""audit log: the resource's before-image of a write, and its target indexed for ?target=

Revision ID: 0002_audit_before
Revises: be98b65354c5
Create Date: 2026-11-22 02:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0002_audit_before"
down_revision = "be98b65354c5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("before", sa.Text(), nullable=True))
        batch.create_index("ix_audit_target", ["target"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_target")
        batch.drop_column("before")
