"""Who may do what to which device.

A grant gives a viewer uid a right over all of an owner's devices or over one
of them: `r` (read) or `a` (admin). An owner is admin of its own devices. When
a viewer holds both an owner-wide and a device grant, the stronger one counts.

Read covers names, status, live, recorded video, thumbs and stills and the
camera tasks `livecommand`, `capturethumb`, `capturestill`. Admin adds
`triggerevent`, PTZ, deleting events and changing device settings.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from camloft.errors import BadRequest, Forbidden
from camloft.ids import DeviceRef


class Right(enum.StrEnum):
    READ = "r"
    ADMIN = "a"

    @property
    def rank(self) -> int:
        return 2 if self is Right.ADMIN else 1

    def allows(self, needed: Right) -> bool:
        return self.rank >= needed.rank

    @classmethod
    def parse(cls, text: str) -> Right:
        try:
            return cls(text)
        except ValueError as err:
            raise BadRequest(f"right must be 'r' or 'a', got {text[:10]!r}") from err


@dataclass(frozen=True, slots=True)
class Grant:
    viewer_uid: int
    owner_uid: int
    device_id: int | None  # None: every device of the owner, present and future
    right: Right


READ_TASKS = frozenset({"livecommand", "capturethumb", "capturestill"})
PTZ_DIRECTIONS = ("up", "down", "left", "right", "in", "out")
ADMIN_TASKS = frozenset(
    {"triggerevent", "ptzstop"}
    | {f"ptz_{d}" for d in PTZ_DIRECTIONS}
    | {f"ptzstart_{d}" for d in PTZ_DIRECTIONS}
)


def right_for_task(action: str) -> Right:
    """The right a camera task needs; an unknown action is a 400."""
    if action in READ_TASKS:
        return Right.READ
    if action in ADMIN_TASKS:
        return Right.ADMIN
    raise BadRequest(f"unknown camera task {action[:40]!r}", code="unknown_action")


class AccessMap:
    """The rights one viewer holds, built once per request from that viewer's grants."""

    def __init__(self, viewer_uid: int, grants: Iterable[Grant]) -> None:
        self.viewer_uid = viewer_uid
        self._owner_wide: dict[int, Right] = {}
        self._per_device: dict[DeviceRef, Right] = {}
        for grant in grants:
            if grant.viewer_uid != viewer_uid:
                continue
            if grant.device_id is None:
                _keep_stronger(self._owner_wide, grant.owner_uid, grant.right)
            else:
                ref = DeviceRef(grant.owner_uid, grant.device_id)
                _keep_stronger(self._per_device, ref, grant.right)

    @property
    def owners_with_all_devices(self) -> frozenset[int]:
        """Owners whose every device this viewer may see (itself included)."""
        return frozenset(self._owner_wide) | {self.viewer_uid}

    @property
    def single_devices(self) -> frozenset[DeviceRef]:
        return frozenset(self._per_device)

    def right_on(self, device: DeviceRef) -> Right | None:
        if device.uid == self.viewer_uid:
            return Right.ADMIN
        rights = [
            r
            for r in (self._owner_wide.get(device.uid), self._per_device.get(device))
            if r is not None
        ]
        return max(rights, key=lambda r: r.rank) if rights else None

    def require(self, device: DeviceRef, needed: Right) -> Right:
        """The viewer's right on `device`, or `Forbidden` if it is not enough."""
        right = self.right_on(device)
        if right is None or not right.allows(needed):
            raise Forbidden(
                f"no {'admin' if needed is Right.ADMIN else 'read'} access to device {device}"
            )
        return right


K = TypeVar("K", bound=Hashable)


def _keep_stronger(rights: dict[K, Right], key: K, right: Right) -> None:
    current = rights.get(key)
    if current is None or right.rank > current.rank:
        rights[key] = right
