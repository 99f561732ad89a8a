"""Private IP addresses inside subnets: who holds which, and handing out static or dynamic ones.

Holders are NIC ipConfigurations (VM NICs, and the NICs Azure creates for private endpoints and private link
services) and load balancer frontends. Azure reserves the first four addresses and the last one of every subnet.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from localcloud.arm import errors
from localcloud.arm.ids import key
from localcloud.arm.state import ArmState, Resource


def subnet_prefix(subnet: Resource) -> str:
    return str(subnet.properties["addressPrefix"])


def holders(state: ArmState, subnet_key: str, exclude: set[str]) -> dict[str, str]:
    """ip -> id of the ipConfiguration or frontend holding it, for one subnet, ignoring resources in `exclude`."""
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


class Allocator:
    """Hands out addresses for one write; addresses given earlier in the same write count as taken."""

    def __init__(self, state: ArmState, exclude: set[str]):
        self._state = state
        self._exclude = exclude
        self._taken: dict[str, dict[str, str]] = {}

    def _held(self, subnet: Resource) -> dict[str, str]:
        if subnet.key not in self._taken:
            self._taken[subnet.key] = holders(self._state, subnet.key, self._exclude)
        return self._taken[subnet.key]

    def assign(self, subnet: Resource, config_id: str, method: str, requested: Any, previous: str | None) -> str:
        network = ipaddress.ip_network(subnet_prefix(subnet))
        held = self._held(subnet)
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
            chosen = _first_free(network, held, subnet.id)
        held[chosen] = config_id
        return chosen


def _reserved(network: ipaddress.IPv4Network | ipaddress.IPv6Network, address: Any) -> bool:
    offset = int(address) - int(network.network_address)
    return offset < 4 or address == network.broadcast_address


def _usable(network: ipaddress.IPv4Network | ipaddress.IPv6Network, text: str) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return address in network and not _reserved(network, address)


def _first_free(network: ipaddress.IPv4Network | ipaddress.IPv6Network, held: dict[str, str], subnet_id: str) -> str:
    for offset in range(4, network.num_addresses - 1):
        candidate = str(network.network_address + offset)
        if candidate not in held:
            return candidate
    raise errors.subnet_full(subnet_id)
