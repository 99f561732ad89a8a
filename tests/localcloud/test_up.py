"""`python -m localcloud up`: writes endpoints.json once everything answers, and SIGTERM stops it all."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


def processes_mentioning(needles: list[str]) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(needle in cmdline for needle in needles):
            found.append(cmdline)
    return found


def test_up_writes_endpoints_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    workdir = tmp_path / "lc"
    with (tmp_path / "up.log").open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "localcloud", "up", "--workdir", str(workdir)],
            cwd=ROOT,
            env={**os.environ, "LOCALCLOUD_SPEED": "50"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    endpoints_file = workdir / "endpoints.json"
    try:

        def written() -> bool:
            if endpoints_file.exists():
                return True
            assert up.poll() is None, (tmp_path / "up.log").read_text()
            return False

        eventually(written, "endpoints.json", 90, interval=0.2)
        endpoints = json.loads(endpoints_file.read_text())
        assert Path(endpoints["caBundle"]).is_file()
        for section in ("functions", "arm", "identity", "emqx", "storage", "redis"):
            assert section in endpoints
        functions = endpoints["functions"]
        answer = httpx.get(f"{functions['baseUrl']}/api/health", headers={"x-functions-key": functions["functionKey"]})
        assert answer.status_code == 200, answer.text
        ports = [str(endpoints["redis"]["port"]), functions["baseUrl"].rsplit(":", 1)[1]]
        ports.append(endpoints["storage"]["connectionString"].split("127.0.0.1:")[1].split("/")[0])
        assert processes_mentioning([str(workdir), *(f" {p}" for p in ports)])
    finally:
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=60) == 0
    assert not endpoints_file.exists()
    assert processes_mentioning([str(workdir), *(f" {p}" for p in ports)]) == []
