"""The demo accounts of `camloft serve --demo`: an owner with cameras and a viewer."""

from __future__ import annotations

from dataclasses import dataclass

from camloft.access import Right
from camloft.auth.admin import Admin
from camloft.ids import GrantTarget


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    role: str


OWNER = DemoLogin("demo@example.com", "demo", "owner (admin of its cameras)")
VIEWER = DemoLogin("viewer@example.com", "viewer", "read-only viewer of the demo cameras")
CAMERAS = ("Front Door", "Garden", "Garage")


async def seed(admin: Admin) -> None:
    """Create the demo accounts if they are absent; leave them alone if present."""
    owner = await admin.store.user_by_email(OWNER.email)
    if owner is None:
        owner = await admin.add_user(
            OWNER.email, OWNER.password, alias="Demo Customer", max_age_days=7, max_devices=10
        )
        for name in CAMERAS:
            await admin.add_device(OWNER.email, name)
    if await admin.store.user_by_email(VIEWER.email) is None:
        await admin.add_user(VIEWER.email, VIEWER.password, alias="Demo Viewer", max_devices=0)
        await admin.grant(VIEWER.email, GrantTarget(owner.uid, None), Right.READ)
