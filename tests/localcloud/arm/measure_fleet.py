"""How long the ARM stand-in takes per resource as one subnet fills up (not a test: a measurement to run by hand).

    .venv/bin/python -m tests.localcloud.arm.measure_fleet 200 1000 [--pls]

For each size N, a fresh stand-in gets one VNet with a /16 subnet, then N links, each a load balancer (one
internal frontend with a dynamic address, a pool, a NAT rule), a NIC in that pool (dynamic address) and, with
`--pls`, a private link service on the frontend (a NAT address and the NIC Azure makes for it). Requests go through
the whole ARM app (authentication, routing, validation, the operation's start), in-process over ASGI so that TLS
and sockets are left out; operations end at once (speed 1e6) and the rate limits are lifted. It prints the mean
time per resource (wall clock, and CPU time of this process, which other load on the machine disturbs less) over the
whole build and over its last tenth (when the subnet already holds ~N links): with constant-time allocation and
reference checks both stay flat as N grows.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import httpx

from localcloud import arm
from localcloud.identity import TokenAuthority, identities_from

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUBSCRIPTION = "6d3f0c10-2b1e-4c61-9f0e-6c1c2f1b7a01"
CLIENT = "4c0c1d9e-5b6a-47f1-a1c2-0a9e8d7c6b03"
KEY = "measure-fleet"
GROUP = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-fleet"
NET = f"{GROUP}/providers/Microsoft.Network"
SUBNET = f"{NET}/virtualNetworks/vnet/subnets/links"
LOCATION = "westeurope"
VERSION = {"api-version": "2024-05-01"}
UNLIMITED = {"limits": {kind: {"capacity": 10**9, "refillPerSecond": 10**9} for kind in ("reads", "writes", "deletes")}}


def _lb(name: str) -> dict[str, Any]:
    lb = f"{NET}/loadBalancers/{name}"
    return {
        "location": LOCATION,
        "sku": {"name": "Standard"},
        "properties": {
            "frontendIPConfigurations": [{"name": "fe", "properties": {"subnet": {"id": SUBNET}}}],
            "backendAddressPools": [{"name": "pool"}],
            "inboundNatRules": [
                {
                    "name": "redis",
                    "properties": {
                        "frontendIPConfiguration": {"id": f"{lb}/frontendIPConfigurations/fe"},
                        "protocol": "Tcp",
                        "frontendPort": 6379,
                        "backendPort": 6379,
                    },
                }
            ],
        },
    }


def _nic(lb_name: str) -> dict[str, Any]:
    pool = f"{NET}/loadBalancers/{lb_name}/backendAddressPools/pool"
    config = {"subnet": {"id": SUBNET}, "loadBalancerBackendAddressPools": [{"id": pool}]}
    return {"location": LOCATION, "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": config}]}}


def _pls(lb_name: str) -> dict[str, Any]:
    frontend = f"{NET}/loadBalancers/{lb_name}/frontendIPConfigurations/fe"
    return {
        "location": LOCATION,
        "properties": {
            "loadBalancerFrontendIpConfigurations": [{"id": frontend}],
            "ipConfigurations": [{"name": "nat", "properties": {"subnet": {"id": SUBNET}}}],
        },
    }


async def _put(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    answer = await http.put(path, params=VERSION, json=body)
    if answer.status_code not in (200, 201):
        raise RuntimeError(f"PUT {path}: {answer.status_code} {answer.text[:300]}")


async def measure(size: int, with_pls: bool) -> dict[str, float]:
    app = arm.create_app(identities={CLIENT: [GROUP]}, token_key=KEY, tenant_id=TENANT, speed=1e6)
    authority = TokenAuthority(key=KEY, tenant_id=TENANT)
    token, _ = authority.issue(identities_from({CLIENT: [GROUP]})[CLIENT.lower()], "https://management.azure.com")
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="https://arm.local", headers=headers) as http:
        (await http.put("/localcloud/ratelimits", json=UNLIMITED)).raise_for_status()
        await _put(http, GROUP, {"location": LOCATION})
        subnet = {"addressPrefix": "10.8.0.0/16", "privateLinkServiceNetworkPolicies": "Disabled"}
        vnet = {
            "location": LOCATION,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.8.0.0/16"]},
                "subnets": [{"name": "links", "properties": subnet}],
            },
        }
        await _put(http, f"{NET}/virtualNetworks/vnet", vnet)
        per_link = 3 if with_pls else 2
        tail_from = size - max(1, size // 10)
        started, cpu_started = time.perf_counter(), time.process_time()
        tail_started = cpu_tail_started = started
        for index in range(size):
            if index == tail_from:
                tail_started, cpu_tail_started = time.perf_counter(), time.process_time()
            name = f"lb-{index:05d}"
            await _put(http, f"{NET}/loadBalancers/{name}", _lb(name))
            await _put(http, f"{NET}/networkInterfaces/nic-{index:05d}", _nic(name))
            if with_pls:
                await _put(http, f"{NET}/privateLinkServices/pls-{index:05d}", _pls(name))
        ended, cpu_ended = time.perf_counter(), time.process_time()
    resources, tail = size * per_link, (size - tail_from) * per_link
    return {
        "links": size,
        "resources": resources,
        "seconds": round(ended - started, 2),
        "ms_per_resource": round((ended - started) * 1000 / resources, 3),
        "ms_per_resource_last_tenth": round((ended - tail_started) * 1000 / tail, 3),
        "cpu_ms_per_resource": round((cpu_ended - cpu_started) * 1000 / resources, 3),
        "cpu_ms_per_resource_last_tenth": round((cpu_ended - cpu_tail_started) * 1000 / tail, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[200, 1000])
    parser.add_argument("--pls", action="store_true", help="a private link service per link too")
    options = parser.parse_args()
    for size in options.sizes:
        print(asyncio.run(measure(size, options.pls)), flush=True)


if __name__ == "__main__":
    main()
