"""org units: the head of the unit (name, e-mail, phone), escalated to after a missed deadline

Revision ID: 0003_unit_head
Revises: 0002_plan_tree
Create Date: 2026-11-22 01:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0003_unit_head"
down_revision = "0002_plan_tree"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("org_units") as batch:
        batch.add_column(sa.Column("head_name_th", sa.Text(), nullable=True))
        batch.add_column(sa.Column("head_email", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("head_phone", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("org_units") as batch:
        batch.drop_column("head_phone")
        batch.drop_column("head_email")
        batch.drop_column("head_name_th")
