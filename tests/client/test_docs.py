"""docs/client.md: each walk-through of the reference runs as written against a demo server.

The blocks marked `# walk-through: <name>` are taken from the guide and run
with the demo's URL in place of `http://127.0.0.1:8080`. The demo owner is
uid 1 here as in `make run`, so the uidds are the guide's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from camloft.client import Client
from tests.client.conftest import event_with_video
from tests.conftest import Deployment

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "client.md"
BLOCK = re.compile(r"```python\n(# walk-through: ([\w-]+)\n.*?)```", re.DOTALL)
WALK_THROUGHS = {name: code for code, name in BLOCK.findall(GUIDE.read_text())}


def test_every_walk_through_of_the_reference_is_in_the_guide() -> None:
    assert set(WALK_THROUGHS) == {"live", "recording", "viewing", "multi-user"}


@pytest.mark.parametrize("name", sorted(WALK_THROUGHS))
def test_walk_through_runs(
    name: str,
    demo: Deployment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    if name == "viewing":  # the newest event must have video already
        with Client(demo.url, email="demo@example.com", password="demo") as client:
            event_with_video(client, "1.1")
    code = WALK_THROUGHS[name].replace("http://127.0.0.1:8080", demo.url)
    exec(compile(code, f"{GUIDE}:{name}", "exec"), {"__name__": f"walk_through_{name}"})
    printed = capsys.readouterr().out
    if name == "live":
        assert "/manything/1.2_" in printed and "userToken=" in printed
    elif name == "viewing":
        assert (tmp_path / "event.jpg").read_bytes()[:2] == b"\xff\xd8"
        assert list(tmp_path.glob("Front_Door-*.mp4"))
    elif name == "multi-user":
        assert "Demo Customer" in printed and "read only: no admin access" in printed
