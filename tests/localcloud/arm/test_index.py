"""The reverse indexes (localcloud/arm/index.py) answer exactly what the scans they replaced answered.

A seeded random workload (NICs, load balancers and private link services coming and going in a small subnet that
fills up, static and dynamic addresses, renamed frontends, refused deletes, subnet deletes) runs twice through the
ARM app: once as it is, once with the scan-based address allocator and back-reference finders of before the
indexes patched in. Every answer (status and body, GUIDs aside) must be the same; and after the workload the
maintained index must equal one rebuilt from scratch.
"""

from __future__ import annotations

import bisect
import ipaddress
import random
import re
from typing import Any

import httpx
import pytest

from localcloud import arm
from localcloud.arm import balancers, endpoints, errors, interfaces, networks, privatelink
from localcloud.arm.addressing import subnet_prefix
from localcloud.arm.clock import ManualClock
from localcloud.arm.ids import key
from localcloud.arm.index import ReferenceIndex, _Offsets
from localcloud.arm.state import ArmState, Operation, Resource
from localcloud.identity import TokenAuthority, identities_from

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUB = "6d3f0c10-2b1e-4c61-9f0e-6c1c2f1b7a01"
CLIENT = "4c0c1d9e-5b6a-47f1-a1c2-0a9e8d7c6b03"
TOKEN_KEY = "index-tests"
GROUP = f"/subscriptions/{SUB}/resourceGroups/rg-index"
NET = f"{GROUP}/providers/Microsoft.Network"
VNET = f"{NET}/virtualNetworks/vnet"
SUBNETS = {"small": "10.9.0.0/28", "big": "10.9.1.0/24"}
LOCATION = "westeurope"
VERSION = {"api-version": "2024-05-01"}
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


# -- the scans the indexes replaced (localcloud/arm as it was before index.py) -------------------------------------


def scan_holders(state: ArmState, subnet_key: str, exclude: set[str]) -> dict[str, str]:
    held: dict[str, str] = {}
    for nic in state.of_type("networkInterfaces"):
        if nic.key in exclude:
            continue
        for config in nic.properties.get("ipConfigurations", []):
            props = config["properties"]
            if key(props["subnet"]["id"]) == subnet_key and props.get("privateIPAddress"):
                held[props["privateIPAddress"]] = f"{nic.id}/ipConfigurations/{config['name']}"
    for lb in state.of_type("loadBalancers"):
        if lb.key in exclude:
            continue
        for frontend in lb.properties.get("frontendIPConfigurations", []):
            props = frontend["properties"]
            subnet = props.get("subnet")
            if subnet and key(subnet["id"]) == subnet_key and props.get("privateIPAddress"):
                held[props["privateIPAddress"]] = f"{lb.id}/frontendIPConfigurations/{frontend['name']}"
    return held


def _reserved(network: Any, address: Any) -> bool:
    offset = int(address) - int(network.network_address)
    return offset < 4 or address == network.broadcast_address


def _usable(network: Any, text: str) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return address in network and not _reserved(network, address)


class ScanAllocator:
    def __init__(self, state: ArmState, exclude: set[str]):
        self._state = state
        self._exclude = exclude
        self._taken: dict[str, dict[str, str]] = {}

    def assign(self, subnet: Resource, config_id: str, method: str, requested: Any, previous: str | None) -> str:
        network = ipaddress.ip_network(subnet_prefix(subnet))
        if subnet.key not in self._taken:
            self._taken[subnet.key] = scan_holders(self._state, subnet.key, self._exclude)
        held = self._taken[subnet.key]
        if method == "Static":
            if not requested:
                raise errors.invalid_request_format(
                    f"IP configuration {config_id} has a Static allocation method but no privateIPAddress."
                )
            try:
                address = ipaddress.ip_address(str(requested))
            except ValueError as exc:
                raise errors.invalid_request_format(f"'{requested}' is not a valid IP address.") from exc
            if address not in network:
                raise errors.ip_not_in_subnet(str(address), str(network))
            if _reserved(network, address):
                raise errors.ip_in_reserved_range(str(address), str(network))
            if str(address) in held:
                raise errors.ip_in_use(config_id, str(address), held[str(address)])
            chosen = str(address)
        elif previous and _usable(network, previous) and previous not in held:
            chosen = previous
        else:
            for offset in range(4, network.num_addresses - 1):
                if str(network.network_address + offset) not in held:
                    chosen = str(network.network_address + offset)
                    break
            else:
                raise errors.subnet_full(subnet.id)
        held[chosen] = config_id
        return chosen


def scan_nic_configs_referencing(state: ArmState, target_id: str, field: str) -> list[str]:
    wanted = key(target_id)
    found = []
    for nic in state.of_type("networkInterfaces"):
        for config in nic.properties.get("ipConfigurations", []):
            if any(key(ref["id"]) == wanted for ref in config["properties"].get(field, [])):
                found.append(f"{nic.id}/ipConfigurations/{config['name']}")
    return found


def scan_subnet_users(state: ArmState, subnet_key: str) -> list[str]:
    users = []
    for nic in state.of_type("networkInterfaces"):
        for config in nic.properties.get("ipConfigurations", []):
            if key(config["properties"]["subnet"]["id"]) == subnet_key:
                users.append(f"{nic.id}/ipConfigurations/{config['name']}")
    for lb in state.of_type("loadBalancers"):
        for frontend in lb.properties.get("frontendIPConfigurations", []):
            subnet = frontend["properties"].get("subnet")
            if subnet and key(subnet["id"]) == subnet_key:
                users.append(f"{lb.id}/frontendIPConfigurations/{frontend['name']}")
    return users


def scan_private_endpoints_in(state: ArmState, subnet_key: str) -> list[str]:
    return [pe.id for pe in state.of_type("privateEndpoints") if key(pe.properties["subnet"]["id"]) == subnet_key]


def scan_link_services_using(state: ArmState, lb: Resource) -> list[Resource]:
    prefix = lb.key + "/frontendipconfigurations/"
    return [
        pls
        for pls in state.of_type("privateLinkServices")
        if any(
            key(ref["id"]).startswith(prefix) for ref in pls.properties.get("loadBalancerFrontendIpConfigurations", [])
        )
    ]


def scan_nics_bound_to(state: ArmState, lb_key: str) -> list[Resource]:
    prefix = lb_key + "/"
    bound = []
    for nic in state.of_type("networkInterfaces"):
        for config in nic.properties.get("ipConfigurations", []):
            refs = [
                *config["properties"].get("loadBalancerBackendAddressPools", []),
                *config["properties"].get("loadBalancerInboundNatRules", []),
            ]
            if any(ref["id"].lower().startswith(prefix) for ref in refs):
                bound.append(nic)
                break
    return bound


def use_scans(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (interfaces, balancers, privatelink, endpoints):
        monkeypatch.setattr(module, "Allocator", ScanAllocator)
    monkeypatch.setattr(balancers, "nic_configs_referencing", scan_nic_configs_referencing)
    monkeypatch.setattr(balancers, "link_services_using", scan_link_services_using)
    monkeypatch.setattr(balancers, "nics_bound_to", scan_nics_bound_to)
    monkeypatch.setattr(networks, "subnet_users", scan_subnet_users)
    monkeypatch.setattr(networks, "private_endpoints_in", scan_private_endpoints_in)


# -- the workload ------------------------------------------------------------------------------------------------


def _subnet(name: str) -> str:
    return f"{VNET}/subnets/{name}"


def _address(rng: random.Random, subnet: str) -> str:
    network = ipaddress.ip_network(SUBNETS[subnet])
    return str(network.network_address + rng.randrange(0, min(network.num_addresses + 4, 40)))


def _config(rng: random.Random, name: str, existing_lbs: list[str]) -> dict[str, Any]:
    subnet = rng.choice(["small", "small", "small", "big"])
    props: dict[str, Any] = {"subnet": {"id": _subnet(subnet)}}
    if rng.random() < 0.25:
        props.update(privateIPAllocationMethod="Static", privateIPAddress=_address(rng, subnet))
    if existing_lbs and rng.random() < 0.5:
        props["loadBalancerBackendAddressPools"] = [
            {"id": f"{NET}/loadBalancers/{lb}/backendAddressPools/pool"} for lb in rng.sample(existing_lbs, 1)
        ]
    return {"name": name, "properties": props}


def _lb_body(rng: random.Random, name: str) -> dict[str, Any]:
    frontends = []
    for frontend in rng.sample(["fe", "fe2", "front"], rng.choice([1, 1, 2])):
        subnet = rng.choice(["small", "small", "big"])
        props: dict[str, Any] = {"subnet": {"id": _subnet(subnet)}}
        if rng.random() < 0.2:
            props.update(privateIPAllocationMethod="Static", privateIPAddress=_address(rng, subnet))
        frontends.append({"name": frontend, "properties": props})
    return {
        "location": LOCATION,
        "sku": {"name": "Standard"},
        "properties": {"frontendIPConfigurations": frontends, "backendAddressPools": [{"name": "pool"}]},
    }


def _normalized(answer: httpx.Response) -> tuple[int, Any]:
    text = GUID.sub("<guid>", answer.text) if answer.content else ""
    return answer.status_code, text


async def run_workload(seed: int, steps: int = 250) -> tuple[list[tuple[str, int, Any]], ArmState]:
    clock = ManualClock(start=1_000_000.0)
    state = ArmState()
    app = arm.create_app(
        identities={CLIENT: [GROUP]}, token_key=TOKEN_KEY, tenant_id=TENANT, speed=1e6, clock=clock, state=state
    )
    authority = TokenAuthority(key=TOKEN_KEY, tenant_id=TENANT, clock=clock)
    token, _ = authority.issue(identities_from({CLIENT: [GROUP]})[CLIENT.lower()], "https://management.azure.com")
    rng = random.Random(seed)
    log: list[tuple[str, int, Any]] = []
    nics, lbs, services = [f"nic{i}" for i in range(8)], [f"lb{i}" for i in range(5)], [f"pls{i}" for i in range(3)]
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="https://arm.local", headers=headers) as http:

        async def call(method: str, path: str, body: Any = None) -> httpx.Response:
            clock.advance(1)  # every operation started before is over
            answer = await http.request(method, path, params=VERSION, json=body)
            log.append((f"{method} {path}", *_normalized(answer)))
            return answer

        def stored(prefix: str, names: list[str]) -> list[str]:
            return [name for name in names if state.get(f"{NET}/{prefix}/{name}") is not None]

        async def put_subnet(name: str) -> None:
            body = {"properties": {"addressPrefix": SUBNETS[name], "privateLinkServiceNetworkPolicies": "Disabled"}}
            await call("PUT", _subnet(name), body)

        await call("PUT", GROUP, {"location": LOCATION})
        await call(
            "PUT",
            VNET,
            {"location": LOCATION, "properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]}}},
        )
        for name in SUBNETS:
            await put_subnet(name)
        for _ in range(steps):
            roll = rng.random()
            if roll < 0.3:
                configs = [_config(rng, "ipconfig1", stored("loadBalancers", lbs))]
                if rng.random() < 0.2:
                    configs.append(_config(rng, "ipconfig2", []))
                body = {"location": LOCATION, "properties": {"ipConfigurations": configs}}
                await call("PUT", f"{NET}/networkInterfaces/{rng.choice(nics)}", body)
            elif roll < 0.5:
                await call("PUT", f"{NET}/loadBalancers/{rng.choice(lbs)}", _lb_body(rng, "lb"))
            elif roll < 0.6:
                index = rng.randrange(len(services))
                lb = state.get(f"{NET}/loadBalancers/{lbs[index]}")
                if lb is None:
                    continue
                frontend = lb.properties["frontendIPConfigurations"][0]["name"]
                body = {
                    "location": LOCATION,
                    "properties": {
                        "loadBalancerFrontendIpConfigurations": [
                            {"id": f"{lb.id}/frontendIPConfigurations/{frontend}"}
                        ],
                        "ipConfigurations": [{"name": "nat", "properties": {"subnet": {"id": _subnet("small")}}}],
                    },
                }
                await call("PUT", f"{NET}/privateLinkServices/{services[index]}", body)
            elif roll < 0.85:
                kind, names = rng.choice(
                    [("networkInterfaces", nics), ("loadBalancers", lbs), ("privateLinkServices", services)]
                )
                await call("DELETE", f"{NET}/{kind}/{rng.choice(names)}")
            elif roll < 0.88:
                answer = await call("DELETE", _subnet("big"))
                if answer.status_code == 202:
                    await put_subnet("big")
            else:
                what = rng.choice(
                    [
                        _subnet("small"),
                        _subnet("big"),
                        *(f"{NET}/loadBalancers/{lb}" for lb in lbs),
                        *(f"{NET}/loadBalancers/{lb}/networkInterfaces" for lb in lbs),
                        *(f"{NET}/loadBalancers/{lb}/backendAddressPools/pool" for lb in lbs),
                    ]
                )
                await call("GET", what)
        await call("GET", f"{NET}/networkInterfaces")
        await call("GET", VNET)
    return log, state


def rebuilt(state: ArmState) -> dict[str, Any]:
    ranks = {resource_key: rank for rank, resource_key in enumerate(state.resources)}
    fresh = ReferenceIndex(ranks.__getitem__)
    for resource in state.resources.values():
        fresh.update(resource)
    return fresh.snapshot()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_indexes_answer_what_the_scans_answered(seed: int, monkeypatch: pytest.MonkeyPatch):
    indexed, state = await run_workload(seed)
    assert state.index.snapshot() == rebuilt(state)
    with monkeypatch.context() as patched:
        use_scans(patched)
        scanned, _ = await run_workload(seed)
    assert len(indexed) == len(scanned)
    for ours, theirs in zip(indexed, scanned, strict=True):
        assert ours == theirs
    statuses = {status for _, status, _ in indexed}
    codes = {code for _, _, text in indexed for code in re.findall(r'"code": "(\w+)"', text)}
    # The workload reached the cases that matter: a full subnet, taken and reserved addresses, refused deletes.
    assert {200, 201, 202, 204, 400} <= statuses
    assert {
        "SubnetIsFull",
        "PrivateIPAddressInUse",
        "CannotDeleteLoadBalancerWithPrivateLinkService",
        "InUseSubnetCannotBeDeleted",
    } <= codes, codes


def _brute_free_after(held: set[int], after: int) -> int:
    offset = after + 1
    while offset in held:
        offset += 1
    return offset


def test_the_lowest_free_offset_is_found_by_binary_search():
    rng = random.Random(7)
    offsets = _Offsets("10.0.0.0/22")
    held: set[int] = set()
    for _ in range(3000):
        ip = str(ipaddress.ip_address(int(offsets.network.network_address) + rng.randrange(4, 200)))
        offset = offsets.offset(ip)
        assert offset is not None
        if offset in held and rng.random() < 0.5:
            offsets.discard(ip)
            held.discard(offset)
        elif offset not in held:
            offsets.add(ip)
            held.add(offset)
        assert offsets.held == sorted(held)
        after = rng.randrange(3, 210)
        assert offsets.free_after(after) == _brute_free_after(held, after)
    assert offsets.offset("10.0.0.3") is None and offsets.offset("10.0.3.255") is None  # reserved, broadcast
    assert bisect.bisect_left(offsets.held, 4) == 0


def test_operations_are_indexed_by_lock_and_due_time():
    state = ArmState()
    finished: list[str] = []

    def operation(name: str, due: float, locks: tuple[str, ...]) -> Operation:
        return Operation(
            id=name,
            subscription=SUB,
            location=LOCATION,
            started=0,
            due=due,
            lock_keys=locks,
            finish=lambda ok, name=name: finished.append(name),
            retry_after=10,
        )

    first, second, third = operation("a", 5, ("x",)), operation("b", 3, ("x", "y")), operation("c", 3, ("z",))
    for op in (first, second, third):
        state.add_operation(op)
    assert state.running("x") is first and state.running("y") is second and state.running("w") is None
    state.settle(2)
    assert finished == []
    state.settle(4)
    assert finished == ["b", "c"]  # due order, then start order
    assert state.running("x") is first and state.running("y") is None
    first.supersede("PutOperation", "d")
    assert state.running("x") is None
    state.settle(10)
    assert finished == ["b", "c"]  # a superseded operation never finishes
