"""`cold_start_ratio`: a fresh host process to its first answered request, the app over a hello-world app.

Both run on localcloud's Functions host (`python -m localcloud.functions_host`) with the app settings of a
running stack in their environment: the app answers `GET /api/links` (reading Table Storage in Azurite, where
`STORED_LINKS` links with a realistic status were written through `shared.store` first, so the answer is a
real page), the baseline (`bench.hello_app`) answers `GET /api/hello`. The clock runs from starting the process
to the first 200; the two alternate, `ROUNDS` times each after one unmeasured round of each, and the medians
are compared.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import httpx

from bench.client import BenchError
from bench.progress import say
from bench.stack import bench_stack
from localcloud.azurite import PROJECT_ROOT
from localcloud.functions_host import HostKeys
from localcloud.processes import free_port
from localcloud.seed import GuideNetwork, link_body
from localcloud.stack import SUBSCRIPTION_ID
from shared.model import (
    AzureResources,
    EmqxPrivateLink,
    Health,
    Link,
    LinkStatus,
    Phase,
    RedisTestResult,
    StepOutcome,
    StepRecord,
    parse_link_spec,
)
from shared.settings import Settings
from shared.store import Store

ROUNDS = 7
TARGET = 1.5
APP = ("function_app:app", "/api/links")
HELLO = ("bench.hello_app:app", "/api/hello")
TIMEOUT = 60.0
STORED_LINKS = 10
_GROUP = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-cold/providers/Microsoft.Network"
# The links are only stored: nothing in ARM or EMQX backs them, and no monitor runs in the measured hosts.
NETWORK = GuideNetwork(
    subscription_id=SUBSCRIPTION_ID,
    resource_group="rg-cold",
    location="eastus",
    vnet_id=f"{_GROUP}/virtualNetworks/vnet-cold",
    subnet_id=f"{_GROUP}/virtualNetworks/vnet-cold/subnets/default",
    nic_id=f"{_GROUP}/networkInterfaces/redis-nic",
)


def _running_link(index: int, endpoints: dict[str, Any]) -> Link:
    """A link as a settled one is stored: running, tested, with a history of its provisioning."""
    spec = parse_link_spec(f"cold-{index:02d}", link_body(NETWORK, endpoints, frontendIp=f"10.1.0.{10 + index}"))
    at = datetime.now(UTC)
    history = [
        StepRecord(at=at + timedelta(seconds=step), step=name, outcome=StepOutcome.SUCCEEDED, duration_ms=812.5)
        for step, name in enumerate(["loadBalancer", "privateLinkService", "visibility", "register", "approve"] * 3)
    ]
    status = LinkStatus(
        phase=Phase.RUNNING,
        health=Health.HEALTHY,
        observed_generation=1,
        resources=AzureResources(
            load_balancer_id=spec.load_balancer_id,
            private_link_service_id=spec.private_link_service_id,
            frontend_ip=IPv4Address(f"10.1.0.{10 + index}"),
        ),
        pls_alias=f"pls-cold-{index:02d}.00000000-0000-0000-0000-000000000000.eastus.azure.privatelinkservice",
        emqx=EmqxPrivateLink(id=f"pl-{index:04d}", status="running", ip=IPv4Address(f"10.8.0.{10 + index}")),
        last_redis_test=RedisTestResult(at=at, passed=True, latency_ms=1.5),
        history=history,
        updated_at=at,
    )
    return Link(spec=spec, status=status)


async def _store_links(app_settings: dict[str, str], endpoints: dict[str, Any]) -> None:
    async with Store.from_settings(Settings.from_mapping(app_settings)) as store:
        for index in range(STORED_LINKS):
            await store.create_link(_running_link(index, endpoints))


def _first_answer(
    app_ref: str, route: str, env: dict[str, str], keys_file: Path, function_key: str, items: int | None = None
) -> float:
    """Seconds from starting the host to the first 200 on `route` (whose `value` must hold `items` items)."""
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
                seconds = time.perf_counter() - started
                if answer.status_code != 200:
                    raise BenchError(f"{app_ref} answered {route} with {answer.status_code}: {answer.text[:200]}")
                if items is not None and len(answer.json()["value"]) != items:
                    raise BenchError(f"{app_ref} answered {route} without the {items} links stored")
                return seconds
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
        asyncio.run(_store_links(stack.app_settings, stack.endpoints))
        times: dict[str, list[float]] = {APP[0]: [], HELLO[0]: []}
        for round_number in range(ROUNDS + 1):
            for app_ref, route in (APP, HELLO):
                items = STORED_LINKS if app_ref == APP[0] else None
                seconds = _first_answer(app_ref, route, env, keys_file, keys.function_key, items)
                if round_number:  # the first round fills the OS's caches
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
        "stored_links": STORED_LINKS,
        "app_s": [round(t, 3) for t in times[APP[0]]],
        "hello_world_s": [round(t, 3) for t in times[HELLO[0]]],
    }
