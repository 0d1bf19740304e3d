"""Initial schema: feedback, hook_audit, jwt_replay.

Revision ID: 0001_initial
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("card_uuid", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("outcome_timestamp", sa.DateTime(), nullable=False),
        sa.Column("accepted_suggestions", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("override_reason_system", sa.String(255)),
        sa.Column("override_reason_code", sa.String(128)),
        sa.Column("override_reason_display", sa.String(512)),
        sa.Column("user_comment", sa.Text()),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("service_id", "card_uuid", "outcome", "outcome_timestamp", name="uq_feedback_item"),
    )
    op.create_table(
        "hook_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("hook", sa.String(64), nullable=False),
        sa.Column("hook_instance", sa.String(128)),
        sa.Column("patient_hash", sa.String(64)),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("card_count", sa.Integer, nullable=False),
        sa.Column("statuses", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("fhir_queries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("fhir_failures", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_hook_audit_at", "hook_audit", ["at"])
    op.create_table(
        "jwt_replay",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("issuer", sa.String(512), nullable=False),
        sa.Column("jti", sa.String(256), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("issuer", "jti", name="uq_jwt_replay_issuer_jti"),
    )
    op.create_index("ix_jwt_replay_expires_at", "jwt_replay", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_jwt_replay_expires_at", table_name="jwt_replay")
    op.drop_table("jwt_replay")
    op.drop_index("ix_hook_audit_at", table_name="hook_audit")
    op.drop_table("hook_audit")
    op.drop_table("feedback")
