"""deleted_events: events viewers deleted, so an adapter's late update cannot recreate them

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deleted_events",
        sa.Column("owner_uid", sa.Integer(), primary_key=True),
        sa.Column("device_id", sa.Integer(), primary_key=True),
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("deleted_ms", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("deleted_events")
