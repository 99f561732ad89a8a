"""What is in place before a measured flow starts, as it would be in Azure: EMQX's own network, and a host that
has already served a request.

- EMQX's stand-in makes its resource group and VNet on its first PrivateLink; in reality they exist long before
  any customer's link, so the benchmark makes them first (same names, EMQX's identity) and EMQX finds them.
- A fresh host loads the life cycle on its first request and fetches its first ARM token; a PUT naming a
  subnet that does not exist goes through that (and is refused with nothing written) before the clock starts.
"""

from __future__ import annotations

from typing import Any

from bench.client import BenchError, Client
from localcloud.emqx import privatelinks as emqx_network


async def make_emqx_network(client: Client, location: str) -> None:
    subscription = client.endpoints["arm"]["emqxSubscriptionId"]
    group = f"/subscriptions/{subscription}/resourcegroups/{emqx_network.RESOURCE_GROUP}"
    await client.emqx_arm.put(f"{group}?{emqx_network.GROUP_API}", {"location": location})
    await client.emqx_arm.put(
        f"{group}/providers/Microsoft.Network/virtualNetworks/{emqx_network.VNET}",
        {
            "location": location,
            "properties": {
                "addressSpace": {"addressPrefixes": [emqx_network.VNET_PREFIX]},
                "subnets": [{"name": emqx_network.SUBNET, "properties": {"addressPrefix": emqx_network.SUBNET_PREFIX}}],
            },
        },
    )


async def warm_up_host(client: Client, body: dict[str, Any]) -> None:
    """PUT `body` (a valid link) naming a subnet that does not exist beside its own: refused, nothing written."""
    subnet = body["azure"]["frontendSubnetId"]
    bad = {**body, "azure": {**body["azure"], "frontendSubnetId": subnet.rsplit("/", 1)[0] + "/no-such-subnet"}}
    answer = await client.put_link("bench-warm-up", bad)
    if answer.status_code != 400:
        raise BenchError(f"the warm-up PUT should be refused with 400, got {answer.status_code}: {answer.text[:200]}")
