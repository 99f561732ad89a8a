"""What a benchmark drives, over the wire only: the app's HTTP API, the host's admin API, ARM as an operator,
and localcloud's control APIs (ARM and EMQX call logs, Event Grid settings, the EMQX console).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from typing import Any

import httpx

from localcloud.emqx.arm_client import ArmClient, ArmSettings
from localcloud.seed import operator_client
from localcloud.stack import APP_CLIENT_ID, EMQX_CLIENT_ID, Stack


class BenchError(RuntimeError):
    pass


class Client:
    def __init__(self, stack: Stack) -> None:
        self.endpoints = stack.endpoints
        functions = self.endpoints.get("functions")
        tls = ssl.create_default_context(cafile=self.endpoints["caBundle"])
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        self.cloud = httpx.AsyncClient(verify=tls, timeout=60, limits=limits)
        self.identity = httpx.AsyncClient(timeout=30)
        self.arm: ArmClient = operator_client(self.endpoints, self.cloud, self.identity)
        # EMQX's own identity, for what only EMQX's subscription shows (its private endpoints).
        self.emqx_arm = ArmClient(
            ArmSettings(
                arm_endpoint=self.endpoints["arm"]["endpoint"],
                identity_endpoint=self.endpoints["identity"]["endpoint"],
                identity_header=self.endpoints["identity"]["header"],
                client_id=EMQX_CLIENT_ID,
            ),
            self.cloud,
            self.identity,
        )
        self.arm_url = self.endpoints["arm"]["endpoint"]
        self.emqx = self.endpoints["emqx"]
        if functions is not None:
            self.api = httpx.AsyncClient(
                base_url=f"{functions['baseUrl']}/api",
                headers={"x-functions-key": functions["functionKey"]},
                timeout=httpx.Timeout(240.0, connect=5.0),
            )
            self.host = httpx.AsyncClient(
                base_url=functions["baseUrl"],
                headers={"x-functions-key": functions["masterKey"]},
                timeout=httpx.Timeout(60.0, connect=5.0),
            )

    async def close(self) -> None:
        for client in (self.cloud, self.identity, getattr(self, "api", None), getattr(self, "host", None)):
            if client is not None:
                await client.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the app ---------------------------------------------------------------------------------------

    async def put_link(self, name: str, body: dict[str, Any]) -> httpx.Response:
        return await self.api.put(f"/links/{name}", json=body)

    async def register(self, name: str) -> httpx.Response:
        return await self.api.post(f"/links/{name}/register")

    async def get_link(self, name: str) -> dict[str, Any]:
        answer = await self.api.get(f"/links/{name}")
        if answer.status_code != 200:
            raise BenchError(f"GET link {name}: {answer.status_code} {answer.text[:300]}")
        return dict(answer.json())

    async def wait_for_link(
        self, name: str, check: Callable[[dict[str, Any]], bool], within: float, interval: float = 0.25
    ) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            link = await self.get_link(name)
            if check(link):
                return link
            if link["status"].get("phase") == "failed" or time.monotonic() > deadline:
                raise BenchError(f"link {name} stopped at {link['status'].get('phase')}: {link['status']}")
            await asyncio.sleep(interval)

    async def run_monitor(self) -> None:
        answer = await self.host.post("/admin/functions/monitor", json={"input": ""})
        if answer.status_code != 202:
            raise BenchError(f"the admin API refused to run the monitor: {answer.status_code} {answer.text[:200]}")

    # -- localcloud's control APIs ---------------------------------------------------------------------

    async def arm_calls(self) -> list[dict[str, Any]]:
        answer = await self.cloud.get(f"{self.arm_url}/localcloud/calls")
        answer.raise_for_status()
        return list(answer.json()["calls"])

    async def app_arm_calls(self) -> list[dict[str, Any]]:
        """The calls the app's own identity made (not the operator's, EMQX's or the benchmark's)."""
        return [call for call in await self.arm_calls() if call["identity"] == APP_CLIENT_ID]

    async def set_ratelimits(self, settings: dict[str, Any]) -> None:
        """Replace ARM's rate limits (localcloud's control API): shrink a principal's bucket, say."""
        (await self.cloud.put(f"{self.arm_url}/localcloud/ratelimits", json=settings)).raise_for_status()

    async def reset_ratelimits(self) -> None:
        (await self.cloud.delete(f"{self.arm_url}/localcloud/ratelimits")).raise_for_status()

    async def reset_arm_calls(self) -> None:
        (await self.cloud.delete(f"{self.arm_url}/localcloud/calls")).raise_for_status()

    async def emqx_calls(self) -> list[dict[str, Any]]:
        answer = await self.cloud.get(self.emqx["consoleUrl"].replace("/console/privatelinks", "/calls"))
        answer.raise_for_status()
        body = answer.json()
        return list(body["calls"] if isinstance(body, dict) else body)

    async def reset_emqx_calls(self) -> None:
        url = self.emqx["consoleUrl"].replace("/console/privatelinks", "/calls")
        (await self.cloud.delete(url)).raise_for_status()

    async def unsubscribe_approver(self) -> None:
        """Remove the stack's Event Grid subscription: no event reaches the approve function any more."""
        (await self.cloud.delete(f"{self.arm_url}/localcloud/eventgrid/subscriptions/approve")).raise_for_status()

    async def set_pending_connection_events(self, enabled: bool) -> None:
        answer = await self.cloud.put(
            f"{self.arm_url}/localcloud/eventgrid/settings", json={"pendingConnectionEvents": enabled}
        )
        answer.raise_for_status()

    async def console_create_private_link(self, alias: str) -> dict[str, Any]:
        answer = await self.cloud.post(
            self.emqx["consoleUrl"], json={"deploymentId": self.emqx["deploymentId"], "alias": alias}
        )
        answer.raise_for_status()
        return dict(answer.json())

    async def console_private_links(self) -> list[dict[str, Any]]:
        answer = await self.cloud.get(self.emqx["consoleUrl"])
        answer.raise_for_status()
        return list(answer.json()["privateLinks"])
