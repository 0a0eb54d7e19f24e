"""rm_deliveries: step, recipient and subject as wide as notifications sends them

Revision ID: 0003_wider_delivery_refs
Revises: bb7eb6befc24
Create Date: 2026-11-22 02:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0003_wider_delivery_refs"
down_revision = "bb7eb6befc24"
branch_labels = None
depends_on = None

COLUMNS = (("step", 32, 60), ("recipient_code", 32, 80), ("subject_ref", 36, 160))


def upgrade() -> None:
    with op.batch_alter_table("rm_deliveries") as batch:
        for name, old, new in COLUMNS:
            batch.alter_column(name, existing_type=sa.String(length=old), type_=sa.String(length=new),
                               existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("rm_deliveries") as batch:
        for name, old, new in COLUMNS:
            batch.alter_column(name, existing_type=sa.String(length=new), type_=sa.String(length=old),
                               existing_nullable=False)
