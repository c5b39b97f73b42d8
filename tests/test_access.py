"""Access: owners are admin; grants give read or admin, owner-wide or per device."""

import pytest

from camloft.access import AccessMap, Grant, Right, right_for_task
from camloft.errors import BadRequest, Forbidden
from camloft.ids import DeviceRef

VIEWER = 100
OWNER = 200


def test_owner_is_admin_of_own_devices() -> None:
    assert AccessMap(OWNER, []).right_on(DeviceRef(OWNER, 5)) is Right.ADMIN


def test_no_grant_no_access() -> None:
    access = AccessMap(VIEWER, [])
    assert access.right_on(DeviceRef(OWNER, 1)) is None
    with pytest.raises(Forbidden):
        access.require(DeviceRef(OWNER, 1), Right.READ)


def test_owner_wide_grant_covers_every_device() -> None:
    access = AccessMap(VIEWER, [Grant(VIEWER, OWNER, None, Right.READ)])
    assert access.right_on(DeviceRef(OWNER, 1)) is Right.READ
    assert access.right_on(DeviceRef(OWNER, 99)) is Right.READ
    assert access.right_on(DeviceRef(OWNER + 1, 1)) is None


def test_device_grant_covers_only_that_device() -> None:
    access = AccessMap(VIEWER, [Grant(VIEWER, OWNER, 2, Right.ADMIN)])
    assert access.right_on(DeviceRef(OWNER, 2)) is Right.ADMIN
    assert access.right_on(DeviceRef(OWNER, 3)) is None


def test_stronger_of_two_grants_counts() -> None:
    access = AccessMap(
        VIEWER, [Grant(VIEWER, OWNER, None, Right.READ), Grant(VIEWER, OWNER, 2, Right.ADMIN)]
    )
    assert access.right_on(DeviceRef(OWNER, 2)) is Right.ADMIN
    assert access.right_on(DeviceRef(OWNER, 3)) is Right.READ
    access.require(DeviceRef(OWNER, 2), Right.ADMIN)
    with pytest.raises(Forbidden):
        access.require(DeviceRef(OWNER, 3), Right.ADMIN)


def test_grants_of_other_viewers_are_ignored() -> None:
    access = AccessMap(VIEWER, [Grant(VIEWER + 1, OWNER, None, Right.ADMIN)])
    assert access.right_on(DeviceRef(OWNER, 1)) is None


@pytest.mark.parametrize("action", ["livecommand", "capturethumb", "capturestill"])
def test_read_tasks(action: str) -> None:
    assert right_for_task(action) is Right.READ


@pytest.mark.parametrize(
    "action", ["triggerevent", "ptzstop", "ptz_up", "ptz_out", "ptzstart_left", "ptzstart_in"]
)
def test_admin_tasks(action: str) -> None:
    assert right_for_task(action) is Right.ADMIN


@pytest.mark.parametrize("action", ["", "ptz_sideways", "LIVECOMMAND", "rm -rf"])
def test_unknown_task_is_bad_request(action: str) -> None:
    with pytest.raises(BadRequest):
        right_for_task(action)


def test_right_parse() -> None:
    assert Right.parse("a") is Right.ADMIN
    with pytest.raises(BadRequest):
        Right.parse("w")
