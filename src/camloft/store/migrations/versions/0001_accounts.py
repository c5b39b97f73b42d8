"""accounts: users, devices, grants, login sessions

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("uid", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("max_age_days", sa.Integer(), nullable=False),
        sa.Column("max_devices", sa.Integer(), nullable=False),
        sa.Column("account_type", sa.String(32), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("last_device_id", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "devices",
        sa.Column(
            "owner_uid",
            sa.Integer(),
            sa.ForeignKey("users.uid", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("device_id", sa.Integer(), primary_key=True),
        sa.Column("phonename", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("streamname", sa.String(64), nullable=False, unique=True),
        sa.Column("logger_url", sa.String(500), nullable=True),
        sa.Column("wowza_url", sa.String(500), nullable=True),
        sa.Column("cloud_recording_enabled", sa.Boolean(), nullable=False),
        sa.Column("app_version", sa.String(32), nullable=False),
        sa.Column("device_type", sa.String(64), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("phoneid", sa.String(200), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "viewer_uid",
            sa.Integer(),
            sa.ForeignKey("users.uid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "owner_uid",
            sa.Integer(),
            sa.ForeignKey("users.uid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("right", sa.String(1), nullable=False),
    )
    op.create_index("ix_grants_viewer", "grants", ["viewer_uid"])
    op.create_index("ix_grants_owner", "grants", ["owner_uid"])
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "uid", sa.Integer(), sa.ForeignKey("users.uid", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_login_sessions_uid", "login_sessions", ["uid"])


def downgrade() -> None:
    op.drop_table("login_sessions")
    op.drop_table("grants")
    op.drop_table("devices")
    op.drop_table("users")
