"""The JSON shapes of the reference's authenticator answers, built from store rows."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from camloft.auth.service import Visible, VisibleDevice
from camloft.config import Settings
from camloft.store.accounts import Device, User


def host_of(url: str) -> str:
    """`host[:port]` of a URL, as the reference's `logger` and `wowza` fields carry it."""
    return urlsplit(url).netloc


def login_result(settings: Settings, user: User, token: str) -> dict[str, Any]:
    return {
        "uid": user.uid,
        "authToken": token,
        "authenticator": settings.base_url,
        "region": settings.region,
        "time": int(time.time() * 1000),
        "email": user.email,
        "accountInfo": {
            "maxAge": user.max_age_days,
            "maxDevices": user.max_devices,
            "type": user.account_type,
            "provider": "camloft",
        },
        "tokenTtl": settings.token_ttl_seconds,
    }


def device_summary(item: VisibleDevice) -> dict[str, Any]:
    return {
        "uidd": str(item.device.ref),
        "phonename": item.device.phonename,
        "permissions": [item.right.value],
    }


def device_home(settings: Settings, device: Device) -> dict[str, Any]:
    """Where the device's adapter goes: `{"uidd", "loggerUrl", "wowzaUrl"}`."""
    return {
        "uidd": str(device.ref),
        "loggerUrl": device.logger_url or settings.device_logger_url,
        "wowzaUrl": device.wowza_url or settings.device_wowza_url,
    }


def device_details(settings: Settings, item: VisibleDevice) -> dict[str, Any]:
    device = item.device
    home = device_home(settings, device)
    logger_url, wowza_url = home["loggerUrl"], home["wowzaUrl"]
    return device_summary(item) | {
        "logger": host_of(logger_url),
        "wowza": host_of(wowza_url),
        "cloudRecordingEnabled": int(device.cloud_recording_enabled),
        "appVersion": device.app_version,
        "deviceType": device.device_type,
        "streamname": device.streamname,
        "language": device.language,
        "phoneid": device.phoneid,
        "loggerUrl": logger_url,
        "wowzaUrl": wowza_url,
    }


def grouped(
    settings: Settings, visible: Visible, aliases: dict[int, str], *, details: bool
) -> dict[str, Any]:
    """`{"result": {<owner uid>: {"devices": {<id>: {...}}, "alias": ...}}, "errors": [...]}`."""
    result: dict[str, dict[str, Any]] = {}
    for item in visible.devices:
        ref = item.device.ref
        group = result.setdefault(str(ref.uid), {"devices": {}, "alias": aliases.get(ref.uid, "")})
        group["devices"][str(ref.device_id)] = (
            device_details(settings, item) if details else device_summary(item)
        )
    return {"result": result, "errors": [{uidd: "Unauthorized"} for uidd in visible.denied]}


def cameras(settings: Settings, visible: Visible, aliases: dict[int, str]) -> list[dict[str, Any]]:
    """The newer `GET /cameras`: one flat object per device."""
    return [
        device_details(settings, item)
        | {
            "uid": item.device.ref.uid,
            "id": item.device.ref.device_id,
            "alias": aliases.get(item.device.ref.uid, ""),
        }
        for item in visible.devices
    ]


def user_view(user: User) -> dict[str, Any]:
    return {
        "uid": user.uid,
        "email": user.email,
        "alias": user.alias,
        "region": user.region,
        "maxAgeDays": user.max_age_days,
        "maxDevices": user.max_devices,
        "admin": user.is_admin,
    }


def device_view(device: Device) -> dict[str, Any]:
    return {
        "uidd": str(device.ref),
        "phonename": device.phonename,
        "streamname": device.streamname,
        "loggerUrl": device.logger_url,
        "wowzaUrl": device.wowza_url,
    }
