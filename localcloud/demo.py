"""`make demo`: one link's whole life on localcloud, over the app's HTTP API only.

Starts localcloud and the Functions host, seeds the guide's network, then: PUT the link (load balancer
`test01`, frontend `demo-redis` at 10.1.0.9, PLS `demo`, port 6379) → register → approval → running → the Redis
test passes → DELETE → teardown verified in localcloud. In console mode the operator's console action is made
through localcloud's EMQX control API, which also shows the PrivateLink IP that the demo then reports with a PUT.
Each step is printed with its duration as it goes; the last line is one JSON object with the result.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from localcloud.seed import GuideNetwork, link_body, operator_client, seed_guide_network
from localcloud.stack import Stack, StackOptions

LINK = "demo"
STEP_TIMEOUT = 240.0
# The app's event types (shared.events.PREFIX: localcloud knows the app over the wire only).
EVENT_TYPE_PREFIX = "Com.Emqx.PrivateLink."


class StepFailedError(Exception):
    pass


@dataclass
class Report:
    mode: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    # The app's life-cycle events the Event Grid custom topic received, by type, in order.
    events: list[str] = field(default_factory=list)

    async def step(self, name: str, action: Callable[[], Awaitable[str]]) -> None:
        began = time.monotonic()
        print(f"-> {name} ...", flush=True)
        try:
            detail = await action()
            ok = True
        except Exception as error:
            detail, ok = f"{type(error).__name__}: {error}", False
        seconds = round(time.monotonic() - began, 2)
        self.steps.append({"name": name, "seconds": seconds, "ok": ok})
        print(f"   {'ok' if ok else 'FAILED'} in {seconds:.2f} s: {detail}", flush=True)
        if not ok:
            raise StepFailedError(name)

    def result(self) -> dict[str, Any]:
        passed = bool(self.steps) and all(step["ok"] for step in self.steps)
        return {
            "result": "passed" if passed else "failed",
            "mode": self.mode,
            "steps": self.steps,
            "events": self.events,
            "total_seconds": round(time.monotonic() - self.started, 2),
        }


class Demo:
    def __init__(self, stack: Stack, mode: str, report: Report) -> None:
        self.stack, self.mode, self.report = stack, mode, report
        self.endpoints = stack.endpoints
        functions = self.endpoints["functions"]
        self.api = httpx.AsyncClient(
            base_url=f"{functions['baseUrl']}/api",
            headers={"x-functions-key": functions["functionKey"]},
            timeout=httpx.Timeout(240.0, connect=5.0),
        )
        self.cloud = httpx.AsyncClient(verify=ssl.create_default_context(cafile=self.endpoints["caBundle"]), timeout=30)
        self.identity = httpx.AsyncClient(timeout=30)
        self.network: GuideNetwork | None = None
        self.body: dict[str, Any] = {}

    async def close(self) -> None:
        for client in (self.api, self.cloud, self.identity):
            await client.aclose()

    async def get_link(self) -> dict[str, Any]:
        answer = await self.api.get(f"/links/{LINK}")
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    async def until(self, what: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            link = await self.get_link()
            if check(link):
                return link
            status = link["status"]
            if status.get("phase") == "failed":
                raise StepFailedError(f"the link failed while waiting for {what}: {status.get('history', [])[-3:]}")
            if time.monotonic() > deadline:
                raise StepFailedError(f"no {what} after {STEP_TIMEOUT:.0f} s (phase {status.get('phase')})")
            await asyncio.sleep(0.5)

    async def seed(self) -> str:
        arm = operator_client(self.endpoints, self.cloud, self.identity)
        self.network = await seed_guide_network(arm, self.cloud, self.endpoints)
        self.body = link_body(
            self.network,
            self.endpoints,
            frontendIp="10.1.0.9",
            names={"loadBalancer": "test01", "frontend": "demo-redis", "privateLinkService": "demo"},
        )
        return f"VNet 10.1.0.0/16, subnet default, VM demo-redis on the real Redis ({self.network.nic_id})"

    async def put_link(self) -> str:
        answer = await self.api.put(f"/links/{LINK}", json=self.body)
        if answer.status_code not in (200, 201, 202):
            raise StepFailedError(f"PUT answered {answer.status_code}: {answer.text[:300]}")
        link = await self.until("provisioned link", lambda link: link["status"].get("phase") != "provisioning")
        alias = link["status"].get("plsAlias")
        return f"HTTP {answer.status_code}; PLS alias {alias}"

    async def register(self) -> str:
        answer = await self.api.post(f"/links/{LINK}/register")
        if answer.status_code not in (200, 202):
            raise StepFailedError(f"register answered {answer.status_code}: {answer.text[:300]}")
        handoff = answer.json()
        if self.mode == "console":
            return (
                f"console hand-off: alias {handoff.get('alias')}, EMQX subscription {handoff.get('emqxSubscriptionId')}"
            )
        return f"EMQX PrivateLink {handoff.get('privateLinkId')} created from alias {handoff.get('alias')}"

    async def console_action(self) -> str:
        link = await self.get_link()
        alias = link["status"]["plsAlias"]
        answer = await self.cloud.post(
            self.endpoints["emqx"]["consoleUrl"],
            json={"deploymentId": self.endpoints["emqx"]["deploymentId"], "alias": alias},
        )
        answer.raise_for_status()
        self.console_id = answer.json()["privateLinkID"]
        return f"operator created PrivateLink {self.console_id} in the EMQX console"

    async def approval(self) -> str:
        link = await self.until(
            "approved connection",
            lambda link: any(c["status"] == "Approved" for c in link["status"].get("connections", [])),
        )
        approved = [c["name"] for c in link["status"]["connections"] if c["status"] == "Approved"]
        return f"connection {approved[0]} approved by policy"

    async def report_ip(self) -> str:
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            answer = await self.cloud.get(f"{self.endpoints['emqx']['consoleUrl']}/{self.console_id}")
            answer.raise_for_status()
            record = answer.json()
            if record.get("status") == "running" and record.get("privateLinkIp"):
                break
            if time.monotonic() > deadline:
                raise StepFailedError(f"the console shows no PrivateLink IP (status {record.get('status')})")
            await asyncio.sleep(0.5)
        body = json.loads(json.dumps(self.body))
        body["emqx"]["privateLinkIp"] = record["privateLinkIp"]
        put = await self.api.put(f"/links/{LINK}", json=body)
        if put.status_code not in (200, 202):
            raise StepFailedError(f"PUT answered {put.status_code}: {put.text[:300]}")
        return f"the console shows PrivateLink IP {record['privateLinkIp']}; reported with a PUT"

    async def running(self) -> str:
        link = await self.until("running link", lambda link: link["status"].get("phase") == "running")
        return f"EMQX PrivateLink running at {link['status'].get('emqx', {}).get('ip')}"

    async def redis_test(self) -> str:
        link = await self.until("Redis test", lambda link: link["status"].get("lastRedisTest") is not None)
        test = link["status"]["lastRedisTest"]
        if not test["passed"]:
            raise StepFailedError(f"the Redis test failed: {test.get('reason')}")
        return f"PING through the PrivateLink passed in {test.get('latencyMs', 0):.0f} ms"

    async def delete(self) -> str:
        if self.mode == "console":
            answer = await self.cloud.request("DELETE", f"{self.endpoints['emqx']['consoleUrl']}/{self.console_id}")
            answer.raise_for_status()
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            answer = await self.api.delete(f"/links/{LINK}")
            if answer.status_code == 204:
                return "the link is gone"
            if answer.status_code != 202:
                raise StepFailedError(f"DELETE answered {answer.status_code}: {answer.text[:300]}")
            if time.monotonic() > deadline:
                raise StepFailedError("the teardown did not finish")
            await asyncio.sleep(1.0)

    async def verify_teardown(self) -> str:
        assert self.network is not None
        arm = operator_client(self.endpoints, self.cloud, self.identity)
        group = f"/subscriptions/{self.network.subscription_id}/resourceGroups/{self.network.resource_group}"
        for path in ("loadBalancers/test01", "privateLinkServices/demo"):
            if await arm.get(f"{group}/providers/Microsoft.Network/{path}") is not None:
                raise StepFailedError(f"{path} still exists")
        nic = await arm.get(self.network.nic_id)
        config = (nic or {}).get("properties", {}).get("ipConfigurations", [{}])[0].get("properties", {})
        if config.get("loadBalancerBackendAddressPools") or config.get("loadBalancerInboundNatRules"):
            raise StepFailedError("the VM's NIC still references the load balancer")
        if (await self.api.get(f"/links/{LINK}")).status_code != 404:
            raise StepFailedError("the link record is still there")
        return "load balancer test01 and PLS demo are gone; the VM's NIC is as before"

    async def events(self) -> str:
        """The life-cycle events the app published to the Event Grid custom topic, as the topic received them."""
        wanted = {"LinkProvisioned", "ConnectionApproved", "LinkRunning", "LinkDeleted"}
        if self.mode == "console":
            wanted.add("AliasReady")
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            answer = await self.cloud.get(f"{self.endpoints['eventgrid']['control']}/events")
            answer.raise_for_status()
            received = [item["event"] for item in answer.json()["events"]]
            types = [
                event["type"].removeprefix(EVENT_TYPE_PREFIX)
                for event in received
                if event["subject"] == f"links/{LINK}"
            ]
            if wanted <= set(types):
                self.report.events = types
                for event in received:
                    print(f"   {event['time']}  {event['type']}  {event['data'].get('reason', '')}", flush=True)
                return f"{len(types)} events: {', '.join(types)}"
            if time.monotonic() > deadline:
                raise StepFailedError(f"missing events {sorted(wanted - set(types))}; received {types}")
            await asyncio.sleep(0.5)


async def run_demo(stack: Stack, mode: str, report: Report) -> None:
    demo = Demo(stack, mode, report)
    try:
        await report.step("seed the guide's network", demo.seed)
        await report.step("PUT the link (test01, demo-redis, demo, port 6379)", demo.put_link)
        await report.step(f"register ({mode} mode)", demo.register)
        if mode == "console":
            await report.step("console action: create the PrivateLink in EMQX", demo.console_action)
        await report.step("approval of the Pending connection", demo.approval)
        if mode == "console":
            await report.step("report the PrivateLink IP from the console", demo.report_ip)
        await report.step("EMQX PrivateLink running", demo.running)
        await report.step("Redis test through the PrivateLink passes", demo.redis_test)
        await report.step("DELETE the link", demo.delete)
        await report.step("teardown verified in localcloud", demo.verify_teardown)
        await report.step("life-cycle events received by the Event Grid topic", demo.events)
    finally:
        await demo.close()


def main(mode: str, speed: float) -> int:
    report = Report(mode=mode)
    stack = Stack(StackOptions(speed=speed, registration_mode=mode))

    async def start() -> str:
        await asyncio.to_thread(stack.start)
        return f"ARM, identity, Event Grid, EMQX, Azurite, redis-server and the Functions host (speed x{speed:g})"

    try:
        asyncio.run(report.step("start localcloud and the Functions host", start))
        asyncio.run(run_demo(stack, mode, report))
    except StepFailedError:
        pass
    finally:
        stack.stop()
    result = report.result()
    print(json.dumps(result), flush=True)
    return 0 if result["result"] == "passed" else 1
