"""Order alerts issued on a draft order, so that an override at order-select silences the same alert at order-sign.

Revision ID: 0005_order_alerts
Revises: 0004_maintenance
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_order_alerts"
down_revision = "0004_maintenance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per critical order card: which draft order (a keyed hash of client, patient, draft order id and
    # option: no PHI), which alert (status and deciding criteria), who was shown it (the hook's userId).
    op.create_table(
        "order_alert",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("card_uuid", sa.String(64), nullable=False),
        sa.Column("order_key", sa.String(64), nullable=False),
        sa.Column("alert", sa.String(512), nullable=False),
        sa.Column("user_ref", sa.String(255)),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("card_uuid", name="uq_order_alert_card_uuid"),
    )
    op.create_index("ix_order_alert_order_key", "order_alert", ["order_key"])


def downgrade() -> None:
    op.drop_index("ix_order_alert_order_key", table_name="order_alert")
    op.drop_table("order_alert")
