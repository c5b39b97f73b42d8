"""Device identity parses in one place; anything else is a 400, never a 500."""

import pytest

from camloft.errors import InvalidId
from camloft.ids import MAX_ID, DeviceRef, GrantTarget


def test_parse_uidd() -> None:
    ref = DeviceRef.parse("12345.17")
    assert (ref.uid, ref.device_id) == (12345, 17)
    assert str(ref) == "12345.17"


@pytest.mark.parametrize(
    "text",
    ["1", "a.b", "12.", ".5", "1.2.3", "01.2", "1.02", "-1.2", "1.-2", "0.1", "1.0", " 1.2",
     "1.2 ", "1..2", "../1.2", "1.2/..", "\u0661.\u0662", "1e3.2", f"{MAX_ID + 1}.1",
     "9" * 40 + ".1", ""],
)
def test_malformed_uidd_is_invalid_id(text: str) -> None:
    with pytest.raises(InvalidId) as caught:
        DeviceRef.parse(text)
    assert caught.value.status_code == 400


def test_largest_id_parses() -> None:
    assert DeviceRef.parse(f"{MAX_ID}.{MAX_ID}").uid == MAX_ID


def test_grant_target_is_owner_or_device() -> None:
    assert GrantTarget.parse("7") == GrantTarget(7, None)
    assert GrantTarget.parse("7.3") == GrantTarget(7, 3)
    assert str(GrantTarget(7, None)) == "7"
    with pytest.raises(InvalidId):
        GrantTarget.parse("7.x")
