"""The world the product's end-to-end tests drive: localcloud's stack, the app's HTTP API, and localcloud's own
control APIs (ARM call counters and faults, EMQX console and connectors, Event Grid settings).

Every test gets its own resource group (`World.network()`), so tests share one stack without sharing resources.
The monitor's timer is off in these stacks (its schedule is yearly); a test runs it when it wants with
`World.run_monitor()`, through the host's admin endpoint as Core Tools does. The app's records (its budgets among
them) are read and set through the app's own store API (`World.with_store`); only a test of what a table holds
(a tampered row, retention) goes to the table itself.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from localcloud.emqx.arm_client import ArmClient
from localcloud.seed import GuideNetwork, operator_client, seed_guide_network
from localcloud.stack import (
    DEPLOYMENT_KEY_SETTING,
    DEPLOYMENT_SECRET_SETTING,
    LINK_SECRET_SETTINGS,
    REDIS_PASSWORD_SETTING,
    Stack,
    StackOptions,
)
from shared.settings import Settings
from shared.store import Store
from tests import bodies
from tests.waiting import eventually

T = TypeVar("T")

NEVER = "0 0 0 1 1 *"  # once a year: the tests run the monitor themselves
TABLE_PREFIX = "emqxpl"  # the app's default STATE_TABLE_PREFIX
SPEED = 50.0
_group_numbers = itertools.count(1)


def stack_world(tmp_path_factory: pytest.TempPathFactory, mode: str, **settings: str) -> Iterator[World]:
    """A world on its own stack at fifty times real speed; `settings` adds or overrides app settings."""
    options = StackOptions(
        workdir=tmp_path_factory.mktemp(f"localcloud-{mode}"),
        speed=SPEED,
        registration_mode=mode,
        extra_settings={
            "MONITOR_SCHEDULE": NEVER,
            "PROVISION_BUDGET_SECONDS": "60",
            # A password Redis refuses: a link names this setting to fail its Redis test.
            "WRONG_REDIS_PASSWORD": "not-the-redis-password",
            "LINK_SECRET_SETTINGS": ",".join((*LINK_SECRET_SETTINGS, "WRONG_REDIS_PASSWORD")),
            **settings,
        },
    )
    with Stack(options) as stack:
        world = World(stack)
        try:
            yield world
        finally:
            world.close()


class World:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.endpoints = stack.endpoints
        functions = self.endpoints["functions"]
        self.function_key = functions["functionKey"]
        self.master_key = functions["masterKey"]
        self.api = httpx.Client(
            base_url=f"{functions['baseUrl']}/api",
            headers={"x-functions-key": self.function_key},
            timeout=httpx.Timeout(120.0, connect=5.0),
        )
        self.host = httpx.Client(base_url=functions["baseUrl"], timeout=httpx.Timeout(300.0, connect=5.0))
        self.cloud = httpx.Client(verify=ssl.create_default_context(cafile=self.endpoints["caBundle"]), timeout=60)
        self.arm_url = self.endpoints["arm"]["endpoint"]
        self.emqx = self.endpoints["emqx"]
        self.emqx_base = self.emqx["platformApiUrl"].split("/public_api/")[0]
        self.subscription_id = self.endpoints["arm"]["subscriptionId"]
        self.emqx_subscription_id = self.endpoints["arm"]["emqxSubscriptionId"]
        self.deployment = bodies.Deployment(
            self.emqx["deploymentId"],
            self.emqx["deploymentApiUrl"],
            DEPLOYMENT_KEY_SETTING,
            DEPLOYMENT_SECRET_SETTING,
            REDIS_PASSWORD_SETTING,
        )
        # The app's budget of EMQX Platform API calls (60 an hour per key), as shared.emqx names it in the store.
        self.platform_budget_key = f"emqx-platform:{self.emqx['platformApiKey']}"

    def close(self) -> None:
        for client in (self.api, self.host, self.cloud):
            client.close()

    # -- ARM as an operator sees it --------------------------------------------------------------------

    def _with_arm(self, action: Callable[[ArmClient, httpx.AsyncClient], Any]) -> Any:
        async def run() -> Any:
            async with (
                httpx.AsyncClient(
                    verify=ssl.create_default_context(cafile=self.endpoints["caBundle"]), timeout=60
                ) as arm_http,
                httpx.AsyncClient(timeout=30) as identity_http,
            ):
                return await action(operator_client(self.endpoints, arm_http, identity_http), arm_http)

        return asyncio.run(run())

    def network(self, vm_listener: str | None = None) -> GuideNetwork:
        """A fresh resource group: the guide's VNet, subnet and a `demo-redis-<n>` VM (the real Redis by default)."""
        number = next(_group_numbers)
        group = f"rg-e2e-{number}-{int(time.time() * 1000) % 100000}"
        # localcloud maps VMs by name across the whole stack: one name per network keeps earlier paths intact.
        vm = f"demo-redis-{number}"
        return self._with_arm(
            lambda arm, http: seed_guide_network(
                arm, http, self.endpoints, resource_group=group, vm_name=vm, vm_listener=vm_listener
            )
        )

    def arm_get(self, path: str) -> dict[str, Any] | None:
        return self._with_arm(lambda arm, _http: arm.get(path))

    def arm_put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._with_arm(lambda arm, _http: arm.put(path, body))

    def arm_delete(self, path: str) -> None:
        self._with_arm(lambda arm, _http: arm.delete(path))

    def foreign_load_balancer(self, network: GuideNetwork, lb_id: str) -> dict[str, Any]:
        """A Standard load balancer in `network` made by someone else: no ownership tags of this app."""
        frontend = {"subnet": {"id": network.subnet_id}, "privateIPAllocationMethod": "Dynamic"}
        return self.arm_put(
            lb_id,
            {
                "location": network.location,
                "sku": {"name": "Standard"},
                "properties": {"frontendIPConfigurations": [{"name": "fe", "properties": frontend}]},
            },
        )

    def calls(self) -> list[dict[str, Any]]:
        answer = self.cloud.get(f"{self.arm_url}/localcloud/calls")
        answer.raise_for_status()
        return list(answer.json()["calls"])

    def reset_calls(self) -> None:
        self.cloud.delete(f"{self.arm_url}/localcloud/calls").raise_for_status()

    def arm_calls_under(self, prefix: str, kinds: tuple[str, ...] = ("write", "delete", "action")) -> list[dict]:
        return [c for c in self.calls() if c["kind"] in kinds and c["path"].lower().startswith(prefix.lower())]

    def inject_fault(self, **fault: Any) -> str:
        answer = self.cloud.post(f"{self.arm_url}/localcloud/faults", json=fault)
        answer.raise_for_status()
        return str(answer.json()["id"])

    def faults(self) -> list[dict[str, Any]]:
        return list(self.cloud.get(f"{self.arm_url}/localcloud/faults").json()["faults"])

    def clear_faults(self) -> None:
        self.cloud.delete(f"{self.arm_url}/localcloud/faults").raise_for_status()

    # -- the app ---------------------------------------------------------------------------------------

    def link_body(self, network: GuideNetwork, **azure: Any) -> dict[str, Any]:
        """A link's PUT body over `network` and localcloud's v5 deployment; `azure` overrides or adds Azure fields."""
        return bodies.link_body(network, self.deployment, **azure)

    def put_link(self, name: str, body: dict[str, Any], **params: str) -> httpx.Response:
        return self.api.put(f"/links/{name}", json=body, params=params)

    def provision(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT until the Azure half is in place (following 202s); the link as GET shows it."""
        answer = self.put_link(name, body)
        assert answer.status_code in (200, 201, 202), answer.text
        return self.wait_for(name, lambda link: link["status"]["phase"] != "provisioning")

    def get_link(self, name: str) -> dict[str, Any]:
        answer = self.api.get(f"/links/{name}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def wait_for(
        self, name: str, check: Callable[[dict[str, Any]], bool], timeout: float = 60, monitor: bool = True
    ) -> dict[str, Any]:
        """GET the link until `check` holds, running the monitor between reads (as the timer would)."""
        return eventually(
            lambda: self.get_link(name),
            lambda link: f"link {name}; last state: {link['status']}",
            timeout,
            accept=check,
            meanwhile=self.run_monitor if monitor else None,
            interval=0.2,
        )

    def run_monitor(self) -> None:
        answer = self.host.post(
            "/admin/functions/monitor", json={"input": ""}, headers={"x-functions-key": self.master_key}
        )
        assert answer.status_code == 202, answer.text

    def register(self, name: str) -> httpx.Response:
        self.hour_passes()
        return self.api.post(f"/links/{name}/register")

    def hour_passes(self) -> None:
        """EMQX's budgets (6 PrivateLinks, 60 Platform API calls an hour per key) as if an hour had gone by.

        A test module registers more links than an hour allows: the EMQX stand-in's clock moves on an hour and the
        app's shared budget record is emptied, as an hour of real time would do to both.
        """
        self.cloud.post(f"{self.emqx_base}/localcloud/clock", json={"advanceSeconds": 3600}).raise_for_status()
        self.with_store(lambda store: store.clear_budget(self.platform_budget_key))

    def with_store(self, action: Callable[[Store], Awaitable[T]]) -> T:
        """`action` on the app's own state store (shared.store), opened from the app's settings, and closed."""

        async def run() -> T:
            async with Store.from_settings(Settings.from_mapping(self.stack.app_settings)) as store:
                return await action(store)

        return asyncio.run(run())

    def delete_until_gone(self, name: str, timeout: float = 60, **params: str) -> None:
        def gone() -> bool:
            answer = self.api.delete(f"/links/{name}", params=params)
            if answer.status_code == 204:
                return True
            assert answer.status_code == 202, answer.text
            return False

        eventually(gone, f"the teardown of {name} to finish", timeout, interval=0.3)

    def running_link(self, name: str, **azure: Any) -> tuple[GuideNetwork, dict[str, Any]]:
        """A link through its whole set-up in api mode: provisioned, registered, approved, running, tested."""
        network = self.network()
        self.provision(name, self.link_body(network, **azure))
        assert self.register(name).status_code == 200
        link = self.wait_for(
            name, lambda link: link["status"]["phase"] == "running" and link["status"].get("lastRedisTest")
        )
        return network, link

    # -- EMQX's side -----------------------------------------------------------------------------------

    def emqx_call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.cloud.request(method, url, **kwargs)

    def deployment_auth(self) -> tuple[str, str]:
        return self.emqx["deploymentApiKey"], self.emqx["deploymentApiSecret"]
