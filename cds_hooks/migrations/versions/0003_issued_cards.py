"""Issued card uuids on the audit trail; feedback on a card never issued is kept and marked.

Revision ID: 0003_issued_cards
Revises: 0002_smart_sessions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_issued_cards"
down_revision = "0002_smart_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The audit row lists the uuids of the cards it answered; a child table indexes them for feedback look-ups.
    op.add_column("hook_audit", sa.Column("card_uuids", sa.Text(), nullable=False, server_default="[]"))
    op.create_table(
        "hook_audit_card",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("audit_id", sa.Integer, sa.ForeignKey("hook_audit.id", ondelete="CASCADE"), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("card_uuid", sa.String(64), nullable=False),
    )
    op.create_index("ix_hook_audit_card_card_uuid", "hook_audit_card", ["card_uuid"])
    op.add_column("feedback", sa.Column("unknown_card", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("unknown_card")
    op.drop_index("ix_hook_audit_card_card_uuid", table_name="hook_audit_card")
    op.drop_table("hook_audit_card")
    with op.batch_alter_table("hook_audit") as batch:
        batch.drop_column("card_uuids")
