"""The maintenance row that lets one replica at a time purge expired replay entries and SMART sessions.

Revision ID: 0004_maintenance
Revises: 0003_issued_cards
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0004_maintenance"
down_revision = "0003_issued_cards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "maintenance",
        sa.Column("task", sa.String(32), primary_key=True),
        sa.Column("last_run", sa.DateTime(), nullable=False),
    )
    op.bulk_insert(table, [{"task": "purge", "last_run": dt.datetime(2000, 1, 1)}])


def downgrade() -> None:
    op.drop_table("maintenance")
