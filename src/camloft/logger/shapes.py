"""The JSON shapes of the logger's answers that more than one route sends."""

from __future__ import annotations

from typing import Any

from camloft.events import EventRecord, hex_magnitude
from camloft.ids import DeviceRef


def alert_json(device: DeviceRef, event: EventRecord) -> dict[str, Any]:
    """One event as the reference's /alert and realtime `alert` messages show it."""
    return {
        "alert": event.id,
        "id": event.id,
        "uid": str(device),
        "deviceid": device.device_id,
        "startt": event.startt,
        "endt": event.endt,
        "end": event.end,
        "type": event.type.value,
        "smx": hex_magnitude(event.smx),
        "aud": hex_magnitude(event.aud),
        "tz": event.tz,
        "rom": int(event.rom),
        "has_hdstill": 0,
        "startval": None,
        "recording": event.recording,
    }
