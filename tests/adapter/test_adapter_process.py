"""Nothing recorded is lost: not when the logger goes away, not when the adapter is killed.

`camloft adapter` runs as a child process recording a synthetic camera
continuously to `camloft serve` in another. The logger is stopped for 8 s and
started again; then the adapter is killed with SIGKILL and started again. The
segments the logger holds must form exactly two unbroken runs: one per adapter
process (a killed process loses only the segment it was still cutting), with
no hole where the logger was away.
"""

from __future__ import annotations

import itertools
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.support import CAMLOFT, Server, camloft_env, new_secret, run_cli


def start_adapter(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([*CAMLOFT, "adapter", "--config", str(config)],
                                stdout=out, stderr=subprocess.STDOUT)


def stored(data_dir: Path, uidd: str) -> list[tuple[int, int]]:
    owner, device = map(int, uidd.split("."))
    with sqlite3.connect(data_dir / "camloft.db") as db:
        return db.execute("SELECT start_ms, duration_ms FROM segments WHERE owner_uid = ? "
                          "AND device_id = ? ORDER BY start_ms", (owner, device)).fetchall()


def runs(segments: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Split into unbroken runs: each segment starting where the last one ended."""
    found: list[list[tuple[int, int]]] = [[segments[0]]]
    for previous, current in itertools.pairwise(segments):
        if current[0] == previous[0] + previous[1]:
            found[-1].append(current)
        else:
            found.append([current])
    return found


def test_logger_outage_and_adapter_kill_lose_nothing(tmp_path: Path) -> None:
    env = camloft_env(new_secret(), None)
    data = tmp_path / "logger"
    run_cli(["admin", "--data-dir", str(data), "user", "add", "o@example.com",
             "--password", "pw"], env)
    added = run_cli(["admin", "--data-dir", str(data), "device", "add", "o@example.com", "C"],
                    env).stdout
    uidd, key = re.search(r"uidd: (\S+)", added), re.search(r"device key: (\S+)", added)
    assert uidd and key
    server = Server(data, env).start()
    spool = tmp_path / "spool"
    config = tmp_path / "cameras.toml"
    config.write_text(
        f'logger_url = "{server.url}"\nspool_dir = "{spool}"\n'
        f'[[cameras]]\nuidd = "{uidd[1]}"\nkey = "{key[1]}"\nname = "c"\n'
        'source = "synthetic"\nrecord = "continuous"\n')
    log = tmp_path / "adapter.log"
    adapter = start_adapter(config, log)
    try:
        time.sleep(8)
        server.stop()  # the logger goes away
        time.sleep(8)
        queued = list((spool / uidd[1]).glob("*.ts"))
        assert len(queued) >= 2, "segments wait in the spool while the logger is away"
        server.start()
        time.sleep(6)
        adapter.send_signal(signal.SIGKILL)  # no goodbye: whatever was finished is on disk
        adapter.wait(10)
        time.sleep(2)
        adapter = start_adapter(config, log)
        time.sleep(10)
        adapter.send_signal(signal.SIGTERM)  # a clean stop finishes and sends the last one
        assert adapter.wait(30) == 0, log.read_text()
        segments = stored(data, uidd[1])
        left = list((spool / uidd[1]).glob("*.ts"))
        assert left == [], f"still queued after a clean stop: {left}"
        found = runs(segments)
        assert len(found) == 2, [(r[0][0], r[-1][0] + r[-1][1]) for r in found]
        first, second = found
        seconds = [sum(duration for _, duration in run) / 1000 for run in found]
        assert seconds[0] >= 20, seconds  # 8 s + 8 s away + 6 s, all kept
        assert seconds[1] >= 7, seconds
        assert second[0][0] - (first[-1][0] + first[-1][1]) < 8000
    finally:
        if adapter.poll() is None:
            adapter.kill()
        server.stop()
