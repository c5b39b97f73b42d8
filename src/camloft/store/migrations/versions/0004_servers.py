"""servers: the loggers and live origins of a fleet and their heartbeats

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "servers",
        sa.Column("url", sa.String(500), primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("load", sa.Integer(), nullable=False),
        sa.Column("started_ms", sa.BigInteger(), nullable=False),
        sa.Column("seen_ms", sa.BigInteger(), nullable=False),
    )
    # Allocation counts and moves the devices of one server.
    op.create_index("ix_devices_logger_url", "devices", ["logger_url"])
    op.create_index("ix_devices_wowza_url", "devices", ["wowza_url"])


def downgrade() -> None:
    op.drop_index("ix_devices_wowza_url", "devices")
    op.drop_index("ix_devices_logger_url", "devices")
    op.drop_table("servers")
