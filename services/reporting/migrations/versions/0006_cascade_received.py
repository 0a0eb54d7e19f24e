"""The cascade read model knows when each addressee received a directive (marked received or
acknowledged), apart from when it was sent: the figure plans' cascade calls "received"

Revision ID: 0006_cascade_received
Revises: 0005_returned_status
Create Date: 2026-12-07 17:20:00
"""
from alembic import op
import sqlalchemy as sa
import shared.types


revision = "0006_cascade_received"
down_revision = "0005_returned_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Filled by the projection from assignment_state_changed (to received) and assignment_acknowledged;
    # `thongthin rebuild reporting` fills it for directives projected before this migration.
    with op.batch_alter_table("rm_directive_units") as batch_op:
        batch_op.add_column(sa.Column("received_at", shared.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rm_directive_units") as batch_op:
        batch_op.drop_column("received_at")
