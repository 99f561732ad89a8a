"""`python -m localcloud.functions_host` as a child process, as the local stack runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import sys
from pathlib import Path

import httpx
import pytest

from localcloud.functions_host import HostKeys
from localcloud.processes import ChildProcess
from tests.localcloud.functions_host.support import SAMPLE_APP_FILE, YEARLY
from tests.waiting import eventually

PROJECT_ROOT = Path(__file__).resolve().parents[3]
STARTED = re.compile(r"^Host started: (http://127\.0\.0\.1:\d+)$", re.MULTILINE)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """A function app directory as `func start` sees it: function_app.py and host.json."""
    directory = tmp_path / "app"
    directory.mkdir()
    shutil.copy(SAMPLE_APP_FILE, directory / "function_app.py")
    host_json = {"version": "2.0", "extensions": {"http": {"routePrefix": "custom"}}}
    (directory / "host.json").write_text(json.dumps(host_json))
    return directory


def start_host(tmp_path: Path, app_dir: Path, settings: dict[str, str]) -> ChildProcess:
    argv = [sys.executable, "-m", "localcloud.functions_host", "--app-dir", str(app_dir), "--port", "0"]
    argv += ["--keys-file", str(tmp_path / "keys.json")]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **settings}
    return ChildProcess("functions-host", argv, tmp_path / "logs", env=env)


def wait_until_started(child: ChildProcess, timeout: float = 30.0) -> str:
    def started() -> re.Match[str] | None:
        found = STARTED.search(child.log_path.read_text())
        if not found and child.process.poll() is not None:
            raise AssertionError(f"the host exited with {child.process.returncode}:\n{child.log_tail()}")
        return found

    found = eventually(started, lambda _: f"the host to start:\n{child.log_tail()}", timeout, interval=0.05)
    assert found is not None
    return found.group(1)


def test_the_host_serves_the_app_of_its_directory_and_stops_cleanly_on_sigterm(tmp_path: Path, app_dir: Path) -> None:
    child = start_host(tmp_path, app_dir, {"TICK_SCHEDULE": YEARLY})
    try:
        base_url = wait_until_started(child)
        keys_file = tmp_path / "keys.json"
        assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
        keys = HostKeys.from_dict(json.loads(keys_file.read_text()))
        with httpx.Client(base_url=base_url, timeout=10) as client:
            answer = client.get("/custom/items/7", params={"code": keys.function_key})
        assert (answer.status_code, answer.text) == (200, "item 7")

        child.process.send_signal(signal.SIGTERM)
        assert child.process.wait(timeout=15) == 0
        with pytest.raises(ProcessLookupError):
            os.killpg(child.process.pid, 0)  # nothing left in the host's process group
        log = child.log_path.read_text()
        assert "Executed 'Functions.items' (Succeeded, Id=" in log
        assert keys.master_key not in log
        assert keys.function_key not in log
    finally:
        child.stop()


def test_the_host_exits_at_startup_naming_an_unset_schedule_setting(tmp_path: Path, app_dir: Path) -> None:
    child = start_host(tmp_path, app_dir, {})
    try:
        assert child.process.wait(timeout=30) != 0
        assert "app setting TICK_SCHEDULE is not set" in child.log_path.read_text()
    finally:
        child.stop()
