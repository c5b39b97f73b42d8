"""events: the reference's alerts, per device, newest first

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("owner_uid", sa.Integer(), primary_key=True),
        sa.Column("device_id", sa.Integer(), primary_key=True),
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("startt", sa.BigInteger(), nullable=False),
        sa.Column("endt", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("smx", sa.Integer(), nullable=True),
        sa.Column("aud", sa.Integer(), nullable=True),
        sa.Column("rom", sa.Boolean(), nullable=False),
        sa.Column("recording", sa.Boolean(), nullable=False),
        sa.Column("tz", sa.Float(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
    )
    # Retention deletes an owner's events by start time.
    op.create_index("ix_events_owner_startt", "events", ["owner_uid", "startt"])


def downgrade() -> None:
    op.drop_table("events")
