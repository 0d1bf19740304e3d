"""Server-side SMART app sessions (opaque id hash → encrypted launch state and tokens).

Revision ID: 0002_smart_sessions
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_smart_sessions"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An app started without the shared store may have created the table already (same shape).
    if sa.inspect(op.get_bind()).has_table("smart_session"):
        return
    op.create_table(
        "smart_session",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_smart_session_expires_at", "smart_session", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_smart_session_expires_at", table_name="smart_session")
    op.drop_table("smart_session")
