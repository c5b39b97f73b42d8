"""The demo of `camloft serve --demo`: an owner with cameras, a viewer, and video.

The cameras are synthetic (real H.264 + AAC made in-process) and recorded by
an adapter running inside the server, so there is video to see at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from camloft.access import Right
from camloft.adapter.config import AdapterSettings, CameraSettings, SyntheticSettings
from camloft.adapter.sound import SoundSettings
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


async def adapter_settings(admin: Admin, logger_url: str, spool_dir: Path) -> AdapterSettings:
    """Synthetic cameras for the demo owner's devices, recording to this server.

    Each start gives the devices new keys: the in-process adapter is their only user.
    Motion comes at random every 5 to 25 s so events appear within the first minute;
    the garden camera also hears a tone burst now and then.
    """
    owner = await admin.store.require_user_by_email(OWNER.email)
    cameras = []
    for number, device in enumerate(await admin.store.devices(owners=[owner.uid])):
        tones = [(float(start), 2.0) for start in range(20, 3600, 45)] if number == 1 else []
        cameras.append(
            CameraSettings(
                uidd=str(device.ref),
                key=await admin.rekey_device(device.ref),
                name=device.phonename,
                source="synthetic",
                record="motion",
                synthetic=SyntheticSettings(
                    seed=number,
                    random_gap_s=(5.0, 25.0),
                    random_burst_s=(3.0, 8.0),
                    tones=tones,
                ),
                sound=SoundSettings(enabled=bool(tones)),
            )
        )
    return AdapterSettings(logger_url=logger_url, spool_dir=spool_dir, cameras=cameras)
