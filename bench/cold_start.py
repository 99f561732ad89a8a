"""`cold_start_ratio`: a fresh host process to its first answered request, the app over a hello-world app.

Both run on localcloud's Functions host (`python -m localcloud.functions_host`) with the app settings of a
running stack in their environment: the app answers `GET /api/links` (reading Table Storage in Azurite), the
baseline (`bench.hello_app`) answers `GET /api/hello`. The clock runs from starting the process to the first
200; the two alternate, `ROUNDS` times each after one unmeasured round of each, and the medians are compared.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.client import BenchError
from bench.progress import say
from bench.stack import bench_stack
from localcloud.azurite import PROJECT_ROOT
from localcloud.functions_host import HostKeys
from localcloud.processes import free_port

ROUNDS = 7
TARGET = 1.5
APP = ("function_app:app", "/api/links")
HELLO = ("bench.hello_app:app", "/api/hello")
TIMEOUT = 60.0


def _first_answer(app_ref: str, route: str, env: dict[str, str], keys_file: Path, function_key: str) -> float:
    """Seconds from starting the host to the first 200 on `route`."""
    port = free_port()
    started = time.perf_counter()
    host = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localcloud.functions_host",
            "--app",
            app_ref,
            "--app-dir",
            str(PROJECT_ROOT),
            "--port",
            str(port),
            "--keys-file",
            str(keys_file),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(timeout=TIMEOUT, headers={"x-functions-key": function_key}) as client:
            while time.perf_counter() - started < TIMEOUT:
                if host.poll() is not None:
                    raise BenchError(f"the host for {app_ref} exited with {host.returncode}")
                try:
                    answer = client.get(f"http://127.0.0.1:{port}{route}")
                except httpx.TransportError:
                    time.sleep(0.005)
                    continue
                if answer.status_code != 200:
                    raise BenchError(f"{app_ref} answered {route} with {answer.status_code}: {answer.text[:200]}")
                return time.perf_counter() - started
    finally:
        host.terminate()
        host.wait(timeout=10)
    raise BenchError(f"{app_ref} did not answer {route} within {TIMEOUT:.0f} s")


def measure() -> dict[str, Any]:
    say(f"cold start: app GET /api/links vs hello-world GET /api/hello, {ROUNDS} rounds each, medians")
    with bench_stack(speed=1.0, start_host=False) as stack, tempfile.TemporaryDirectory() as keys_dir:
        keys = HostKeys.generate()
        keys_file = Path(keys_dir) / "host-keys.json"
        keys_file.write_text(json.dumps(keys.as_dict()))
        env = {**os.environ, **stack.app_settings}
        times: dict[str, list[float]] = {APP[0]: [], HELLO[0]: []}
        for round_number in range(ROUNDS + 1):
            for app_ref, route in (APP, HELLO):
                seconds = _first_answer(app_ref, route, env, keys_file, keys.function_key)
                if round_number:  # the first round creates the table and fills the OS's caches
                    times[app_ref].append(seconds)
    app, hello = statistics.median(times[APP[0]]), statistics.median(times[HELLO[0]])
    ratio = app / hello
    say(f"cold start: app {app:.3f} s, hello-world {hello:.3f} s (medians): ratio {ratio:.2f} (target <= {TARGET})")
    return {
        "value": round(ratio, 3),
        "target": f"<= {TARGET}",
        "met": ratio <= TARGET,
        "app_median_s": round(app, 3),
        "hello_world_median_s": round(hello, 3),
        "rounds": ROUNDS,
        "app_s": [round(t, 3) for t in times[APP[0]]],
        "hello_world_s": [round(t, 3) for t in times[HELLO[0]]],
    }
