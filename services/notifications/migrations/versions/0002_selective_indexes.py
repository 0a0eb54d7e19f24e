"""scheduled messages: indexes that lead with subject / recipient / digest and carry status;
tracked obligations by assignment

Revision ID: 0002_selective_indexes
Revises: 879b8d14abe7
Create Date: 2026-11-22 02:45:00
"""
from alembic import op


revision = "0002_selective_indexes"
down_revision = "879b8d14abe7"
branch_labels = None
depends_on = None

SM = "scheduled_messages"


def upgrade() -> None:
    op.drop_index("ix_scheduled_subject", table_name=SM)
    op.create_index("ix_scheduled_subject", SM, ["subject_ref", "status"])
    op.drop_index("ix_scheduled_recipient", table_name=SM)
    op.create_index("ix_scheduled_recipient", SM, ["recipient_code", "status", "claimed_at"])
    op.drop_index("ix_scheduled_digest", table_name=SM)
    op.create_index("ix_scheduled_digest", SM, ["digest_id", "status"])
    op.create_index("ix_tracked_obligations_assignment", "tracked_obligations", ["assignment_id"])


def downgrade() -> None:
    op.drop_index("ix_tracked_obligations_assignment", table_name="tracked_obligations")
    op.drop_index("ix_scheduled_digest", table_name=SM)
    op.create_index("ix_scheduled_digest", SM, ["digest_id"])
    op.drop_index("ix_scheduled_recipient", table_name=SM)
    op.create_index("ix_scheduled_recipient", SM, ["recipient_code", "sent_at"])
    op.drop_index("ix_scheduled_subject", table_name=SM)
    op.create_index("ix_scheduled_subject", SM, ["subject_ref"])
