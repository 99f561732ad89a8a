"""Shared pieces of the ARM stand-in tests: the emulated tenant, the clouds under test, request bodies."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential
from azure.mgmt.network import NetworkManagementClient
from starlette.applications import Starlette

from localcloud import arm, identity
from localcloud.arm.clock import ManualClock
from localcloud.serving import BackgroundServer
from localcloud.tls import LocalCA
from tests.localcloud.identity_tokens import token_from

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "azure"

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PROVIDER_SUB = "6d3f0c10-2b1e-4c61-9f0e-6c1c2f1b7a01"
EMQX_SUB = "0e8a7b52-94d1-4b8c-8b3c-3e6a5f2d9c02"
FUNCTION_APP = "4c0c1d9e-5b6a-47f1-a1c2-0a9e8d7c6b03"
EMQX_CLIENT = "b7e2f0a1-3c4d-4e5f-8a9b-1c2d3e4f5a04"
TOKEN_KEY = "localcloud-arm-tests-token-key"
IDENTITY_HEADER = "localcloud-arm-tests-identity-header"
ARM_SCOPE = "https://management.azure.com/.default"
LOCATION = "westeurope"
RG = "rg-link"
EMQX_RG = "emqx-privatelink"
FAST = 1000.0  # how much faster than Azure's recorded timings the fast clouds' operations end

IDENTITIES = {
    FUNCTION_APP: [f"/subscriptions/{PROVIDER_SUB}/resourceGroups/{RG}"],
    EMQX_CLIENT: [f"/subscriptions/{EMQX_SUB}"],
}


def net(subscription: str, group: str, *parts: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/" + "/".join(parts)


def provider(*parts: str) -> str:
    return net(PROVIDER_SUB, RG, *parts)


def consumer(*parts: str) -> str:
    return net(EMQX_SUB, EMQX_RG, *parts)


def load(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_text())


@dataclass
class Cloud:
    arm: str
    identity: str
    ca_bundle: str
    app: Starlette
    clock: ManualClock | None

    def token(self, client_id: str = FUNCTION_APP, resource: str = "https://management.azure.com") -> str:
        return token_from(self.identity, IDENTITY_HEADER, client_id, resource)

    @property
    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_bundle)

    def http(self, client_id: str = FUNCTION_APP) -> httpx.Client:
        """A raw HTTPS client carrying a bearer token of `client_id`."""
        return httpx.Client(
            base_url=self.arm, verify=self.tls, headers={"Authorization": f"Bearer {self.token(client_id)}"}
        )

    def control(self) -> httpx.Client:
        return httpx.Client(base_url=self.arm, verify=self.tls)


@contextlib.contextmanager
def running_cloud(
    ca: LocalCA, *, speed: float, clock: ManualClock | None = None, eventgrid: dict[str, Any] | None = None
) -> Iterator[Cloud]:
    extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
    identity_app = identity.create_app(
        identities=IDENTITIES,
        default_client_id=FUNCTION_APP,
        header=IDENTITY_HEADER,
        token_key=TOKEN_KEY,
        tenant_id=TENANT,
        **extra,
    )
    arm_app = arm.create_app(
        identities=IDENTITIES, token_key=TOKEN_KEY, tenant_id=TENANT, speed=speed, eventgrid=eventgrid, **extra
    )
    with BackgroundServer(identity_app) as ids, BackgroundServer(arm_app, ca.server) as arm_server:
        yield Cloud(
            arm=arm_server.base_url,
            identity=f"{ids.base_url}/msi/token",
            ca_bundle=str(ca.ca_bundle),
            app=arm_app,
            clock=clock,
        )


def create_groups(cloud: Cloud) -> None:
    """The provider's and EMQX's resource groups (the Network SDK has no resource group operations)."""
    for client_id, subscription, group in ((FUNCTION_APP, PROVIDER_SUB, RG), (EMQX_CLIENT, EMQX_SUB, EMQX_RG)):
        with cloud.http(client_id) as http:
            answer = http.put(
                f"/subscriptions/{subscription}/resourcegroups/{group}",
                params={"api-version": "2021-04-01"},
                json={"location": LOCATION},
            )
            assert answer.status_code in (200, 201), answer.text


def fresh(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    """Empty the stand-in, point azure-identity at it, and create both resource groups."""
    with cloud.control() as control:
        control.post("/localcloud/reset").raise_for_status()
    # azure-identity finds the App Service managed identity endpoint through these two variables only.
    monkeypatch.setenv("IDENTITY_ENDPOINT", cloud.identity)
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
    create_groups(cloud)
    return cloud


@contextlib.contextmanager
def network_client(cloud: Cloud, subscription: str, client_id: str | None = None) -> Iterator[NetworkManagementClient]:
    """The Network SDK's client in `subscription`, as the managed identity `client_id` (the default one if None)."""
    credential = ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
    with (
        credential,
        NetworkManagementClient(
            credential,
            subscription,
            base_url=cloud.arm,
            credential_scopes=[ARM_SCOPE],
            connection_verify=cloud.ca_bundle,
        ) as client,
    ):
        yield client


# Request bodies (ARM JSON, as the SDK also accepts them).


def vnet_body(prefix: str, subnets: dict[str, str] | None = None, *, location: str = LOCATION) -> dict[str, Any]:
    return {
        "location": location,
        "properties": {
            "addressSpace": {"addressPrefixes": [prefix]},
            "subnets": [{"name": n, "properties": {"addressPrefix": p}} for n, p in (subnets or {}).items()],
        },
    }


def nic_body(
    subnet_id: str, *, ip: str | None = None, pools: list[str] = (), nat_rules: list[str] = (), location: str = LOCATION
) -> dict[str, Any]:
    config: dict[str, Any] = {"subnet": {"id": subnet_id}}
    if ip:
        config.update(privateIPAllocationMethod="Static", privateIPAddress=ip)
    if pools:
        config["loadBalancerBackendAddressPools"] = [{"id": p} for p in pools]
    if nat_rules:
        config["loadBalancerInboundNatRules"] = [{"id": r} for r in nat_rules]
    return {"location": location, "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": config}]}}


def lb_body(
    name: str,
    subnet_id: str,
    *,
    frontend_ip: str | None = "10.1.0.9",
    nat_port: int | None = 6379,
    backend_port: int = 6379,
    rule_port: int | None = None,
    probe_port: int | None = None,
) -> dict[str, Any]:
    lb_id = provider("loadBalancers", name)
    frontend: dict[str, Any] = {"subnet": {"id": subnet_id}}
    if frontend_ip:
        frontend.update(privateIPAllocationMethod="Static", privateIPAddress=frontend_ip)
    fe_ref = {"id": f"{lb_id}/frontendIPConfigurations/demo-redis"}
    props: dict[str, Any] = {
        "frontendIPConfigurations": [{"name": "demo-redis", "properties": frontend}],
        "backendAddressPools": [{"name": "demo-redis-pool"}],
        "inboundNatRules": [],
        "loadBalancingRules": [],
        "probes": [],
    }
    if nat_port is not None:
        props["inboundNatRules"].append(
            {
                "name": "redis",
                "properties": {
                    "frontendIPConfiguration": fe_ref,
                    "protocol": "Tcp",
                    "frontendPort": nat_port,
                    "backendPort": backend_port,
                },
            }
        )
    if rule_port is not None:
        rule: dict[str, Any] = {
            "frontendIPConfiguration": fe_ref,
            "backendAddressPool": {"id": f"{lb_id}/backendAddressPools/demo-redis-pool"},
            "protocol": "Tcp",
            "frontendPort": rule_port,
            "backendPort": backend_port,
        }
        if probe_port is not None:
            props["probes"].append({"name": "redis-probe", "properties": {"protocol": "Tcp", "port": probe_port}})
            rule["probe"] = {"id": f"{lb_id}/probes/redis-probe"}
        props["loadBalancingRules"].append({"name": "redis-rule", "properties": rule})
    return {"location": LOCATION, "sku": {"name": "Standard"}, "properties": props}


def pls_body(frontend_id: str, subnet_id: str, *, visible_to: list[str] = (), auto: list[str] = ()) -> dict[str, Any]:
    return {
        "location": LOCATION,
        "properties": {
            "loadBalancerFrontendIpConfigurations": [{"id": frontend_id}],
            "ipConfigurations": [{"name": "nat", "properties": {"subnet": {"id": subnet_id}}}],
            "visibility": {"subscriptions": list(visible_to)},
            "autoApproval": {"subscriptions": list(auto)},
        },
    }


def pe_body(subnet_id: str, target: str, *, manual: bool = True) -> dict[str, Any]:
    field = "manualPrivateLinkServiceConnections" if manual else "privateLinkServiceConnections"
    return {
        "location": LOCATION,
        "properties": {
            "subnet": {"id": subnet_id},
            field: [{"name": "emqx", "properties": {"privateLinkServiceId": target, "requestMessage": "EMQX"}}],
        },
    }


class TcpListener:
    """A real TCP listener on loopback that accepts and counts connections (a VM's service)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._accepting = threading.Condition()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.close()
            with self._accepting:
                self.accepted += 1
                self._accepting.notify_all()

    def wait_for_accepts(self, count: int, timeout: float = 5.0) -> bool:
        """True once `count` connections were accepted (the accept thread may lag the client a little)."""
        with self._accepting:
            return self._accepting.wait_for(lambda: self.accepted >= count, timeout)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked in the thread
        self.sock.close()
        self._thread.join(timeout=5)


def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Link:
    """The provider side of the guide: VNet, subnet, the demo-redis NIC, LB test01 and PLS demo."""

    subnet_id: str
    nic_id: str
    lb_id: str
    frontend_id: str
    pool_id: str
    pls_id: str
    alias: str


def provision(network: Any, *, bind_nat: bool = True, bind_pool: bool = False, **lb_options: Any) -> Link:
    """Build the guide's provider side with the sync SDK (each LRO waited for)."""
    network.virtual_networks.begin_create_or_update(
        RG, "vnet", vnet_body("10.1.0.0/16", {"default": "10.1.0.0/24"})
    ).result()
    subnet = network.subnets.get(RG, "vnet", "default")
    subnet.private_link_service_network_policies = "Disabled"
    subnet = network.subnets.begin_create_or_update(RG, "vnet", "default", subnet).result()
    network.network_interfaces.begin_create_or_update(RG, "demo-redis-nic", nic_body(subnet.id)).result()
    lb = network.load_balancers.begin_create_or_update(
        RG, "test01", lb_body("test01", subnet.id, **lb_options)
    ).result()
    pool_id = lb.backend_address_pools[0].id
    nat_rules = [lb.inbound_nat_rules[0].id] if bind_nat and lb.inbound_nat_rules else []
    nic = network.network_interfaces.begin_create_or_update(
        RG, "demo-redis-nic", nic_body(subnet.id, pools=[pool_id] if bind_pool else [], nat_rules=nat_rules)
    ).result()
    frontend_id = lb.frontend_ip_configurations[0].id
    pls = network.private_link_services.begin_create_or_update(
        RG, "demo", pls_body(frontend_id, subnet.id, visible_to=[EMQX_SUB])
    ).result()
    return Link(subnet.id, nic.id, lb.id, frontend_id, pool_id, pls.id, pls.alias)


def endpoint(emqx_network: Any, target: str, *, manual: bool = True, name: str = "emqx-pe") -> Any:
    """EMQX's private endpoint towards `target` (alias or id), in EMQX's own VNet."""
    emqx_network.virtual_networks.begin_create_or_update(
        EMQX_RG, "emqx-vnet", vnet_body("10.200.0.0/16", {"endpoints": "10.200.0.0/24"})
    ).result()
    subnet_id = consumer("virtualNetworks", "emqx-vnet", "subnets", "endpoints")
    return emqx_network.private_endpoints.begin_create_or_update(
        EMQX_RG, name, pe_body(subnet_id, target, manual=manual)
    ).result()


_SCOPE_PREFIX = re.compile(r"/subscriptions/[^/\"]+/resourceGroups/[^/\"]+/", re.IGNORECASE)


def localize(fixture_body: Any, subscription: str = PROVIDER_SUB, group: str = RG) -> Any:
    """A fixture's request body with its placeholder subscription and resource group replaced by ours."""
    text = _SCOPE_PREFIX.sub(f"/subscriptions/{subscription}/resourceGroups/{group}/", json.dumps(fixture_body))
    return json.loads(text)


def shape_problems(actual: Any, expected: Any, path: str = "$") -> list[str]:
    """Where `actual` lacks a key of `expected` or holds another kind of value (ids and values may differ)."""
    if expected is None:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: object expected, got {type(actual).__name__}"]
        problems = []
        for name, value in expected.items():
            if name not in actual:
                problems.append(f"{path}.{name}: missing")
            else:
                problems += shape_problems(actual[name], value, f"{path}.{name}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: array expected, got {type(actual).__name__}"]
        if expected and not actual:
            return [f"{path}: empty, the fixture has items"]
        return shape_problems(actual[0], expected[0], f"{path}[0]") if expected else []
    kinds = (bool,) if isinstance(expected, bool) else (int, float) if isinstance(expected, int | float) else (str,)
    if not isinstance(actual, kinds) or (isinstance(actual, bool) and kinds != (bool,)):
        return [f"{path}: {type(expected).__name__} expected, got {actual!r}"]
    return []


class Capture:
    """`raw_response_hook` for SDK calls: keeps every HTTP response the pipeline saw."""

    def __init__(self) -> None:
        self.responses: list[Any] = []

    def __call__(self, pipeline_response: Any) -> None:
        self.responses.append(pipeline_response.http_response)

    @property
    def last(self) -> Any:
        return self.responses[-1]


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str


def refusal(call: Any, *args: Any, **kwargs: Any) -> Refusal:
    """The ARM error an SDK call ends with (copied out, so no response stays referenced by a traceback)."""
    try:
        call(*args, **kwargs)
    except HttpResponseError as exc:
        return Refusal(
            int(exc.status_code or 0), exc.error.code if exc.error else "", exc.error.message if exc.error else ""
        )
    raise AssertionError("the call succeeded; an ARM error was expected")
