"""The SQL schema of camloft's metadata. Alembic migrations create and change it."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class UserRow(Base):
    __tablename__ = "users"
    # Never hand a removed user's uid to a new user: its tokens may still be alive.
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy's hook

    uid: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    alias: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(32))
    max_age_days: Mapped[int] = mapped_column(Integer)
    max_devices: Mapped[int] = mapped_column(Integer)
    account_type: Mapped[str] = mapped_column(String(32))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # Device ids count up per owner and are never reused, like uids.
    last_device_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_ms: Mapped[int] = mapped_column(BigInteger)


class DeviceRow(Base):
    __tablename__ = "devices"

    owner_uid: Mapped[int] = mapped_column(
        ForeignKey("users.uid", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phonename: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64))
    streamname: Mapped[str] = mapped_column(String(64), unique=True)
    logger_url: Mapped[str | None] = mapped_column(String(500))
    wowza_url: Mapped[str | None] = mapped_column(String(500))
    cloud_recording_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    app_version: Mapped[str] = mapped_column(String(32))
    device_type: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    phoneid: Mapped[str] = mapped_column(String(200))
    created_ms: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_devices_logger_url", "logger_url"),
        Index("ix_devices_wowza_url", "wowza_url"),
    )


class GrantRow(Base):
    __tablename__ = "grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    viewer_uid: Mapped[int] = mapped_column(ForeignKey("users.uid", ondelete="CASCADE"))
    owner_uid: Mapped[int] = mapped_column(ForeignKey("users.uid", ondelete="CASCADE"))
    device_id: Mapped[int | None] = mapped_column(Integer)  # NULL: all the owner's devices
    right: Mapped[str] = mapped_column(String(1))

    __table_args__ = (
        Index("ix_grants_viewer", "viewer_uid"),
        Index("ix_grants_owner", "owner_uid"),
    )


class LoginSessionRow(Base):
    """A long-lived login (the website cookie or a `webLogin` refresh credential)."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    uid: Mapped[int] = mapped_column(ForeignKey("users.uid", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)


class SegmentRow(Base):
    """One stored MPEG-TS segment of a device; the bytes live in the blob store."""

    __tablename__ = "segments"

    owner_uid: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    blob_key: Mapped[str] = mapped_column(String(200))
    received_ms: Mapped[int] = mapped_column(BigInteger)


class EventRow(Base):
    """One event (alert) of a device; `id` is its start second."""

    __tablename__ = "events"

    owner_uid: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    startt: Mapped[int] = mapped_column(BigInteger)
    endt: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(16))
    smx: Mapped[int | None] = mapped_column(Integer)
    aud: Mapped[int | None] = mapped_column(Integer)
    rom: Mapped[bool] = mapped_column(Boolean)
    recording: Mapped[bool] = mapped_column(Boolean)
    tz: Mapped[float] = mapped_column(Float)
    created_ms: Mapped[int] = mapped_column(BigInteger)  # when the logger first heard of it
    updated_ms: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_events_owner_startt", "owner_uid", "startt"),)


class ServerRow(Base):
    """A logger or live origin of the fleet, as its last heartbeat described it."""

    __tablename__ = "servers"

    url: Mapped[str] = mapped_column(String(500), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)  # "logger" | "live"
    region: Mapped[str] = mapped_column(String(32))
    load: Mapped[int] = mapped_column(Integer)  # linked cameras (logger), streams (live)
    started_ms: Mapped[int] = mapped_column(BigInteger)
    seen_ms: Mapped[int] = mapped_column(BigInteger)  # 0: it left


class DeletedEventRow(Base):
    """An event a viewer deleted: its adapter's later updates must not bring it back."""

    __tablename__ = "deleted_events"

    owner_uid: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    deleted_ms: Mapped[int] = mapped_column(BigInteger)
