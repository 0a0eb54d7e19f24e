"""documents: the unit that recorded each one (only it, or central, attaches to and issues a draft);
receipt numbers stored with Arabic digits, like document numbers, so ๕๐๘๓๖ and 50836 are one number

Revision ID: 0004_document_recorder
Revises: 0003_unit_head
Create Date: 2026-12-07 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0004_document_recorder"
down_revision = "0003_unit_head"
branch_labels = None
depends_on = None

FROM_THAI = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("recorded_by_unit", sa.String(length=32), nullable=True))
    connection = op.get_bind()
    receipts = sa.table("receipts", sa.column("id"), sa.column("unit_code"), sa.column("register_year_be"),
                        sa.column("receipt_no"))
    rows = connection.execute(sa.select(receipts)).mappings().all()
    taken = {(r["unit_code"], r["register_year_be"], r["receipt_no"]) for r in rows}
    for row in rows:
        arabic = row["receipt_no"].translate(FROM_THAI)
        key = (row["unit_code"], row["register_year_be"], arabic)
        if arabic != row["receipt_no"] and key not in taken:  # a number already taken in Arabic digits stays as it was
            connection.execute(sa.update(receipts).where(receipts.c.id == row["id"]).values(receipt_no=arabic))
            taken.add(key)


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("recorded_by_unit")
