"""Device identity: `uidd` = "<owner uid>.<device id>", parsed in this one place.

Both parts are positive decimal integers that fit a 32-bit signed column, so a
value that parses here can never overflow the database. Anything else raises
`InvalidId` (a 400), never reaches a query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from camloft.errors import InvalidId

MAX_ID = 2**31 - 1
_NUMBER = re.compile(r"[1-9][0-9]{0,9}")


def parse_id(text: str, *, what: str = "id") -> int:
    """Parse one positive integer id (a uid or a device id)."""
    if not _NUMBER.fullmatch(text):
        raise InvalidId(f"{what} must be a positive integer, got {text[:40]!r}")
    value = int(text)
    if value > MAX_ID:
        raise InvalidId(f"{what} {text!r} is out of range")
    return value


@dataclass(frozen=True, order=True, slots=True)
class DeviceRef:
    """One device: its owner's uid and its id among that owner's devices."""

    uid: int
    device_id: int

    @classmethod
    def parse(cls, uidd: str) -> DeviceRef:
        owner, sep, device = uidd.partition(".")
        if not sep:
            raise InvalidId(f"uidd must look like '<uid>.<device id>', got {uidd[:40]!r}")
        return cls(parse_id(owner, what="uid"), parse_id(device, what="device id"))

    def __str__(self) -> str:
        return f"{self.uid}.{self.device_id}"


@dataclass(frozen=True, slots=True)
class GrantTarget:
    """What a grant covers: all of an owner's devices, or one of them."""

    uid: int
    device_id: int | None

    @classmethod
    def parse(cls, text: str) -> GrantTarget:
        """Parse `OWNER_UID` or `OWNER_UID.DEVICE_ID`."""
        if "." in text:
            ref = DeviceRef.parse(text)
            return cls(ref.uid, ref.device_id)
        return cls(parse_id(text, what="uid"), None)

    def __str__(self) -> str:
        return str(self.uid) if self.device_id is None else f"{self.uid}.{self.device_id}"
