"""Private IP addresses inside subnets: who holds which, and handing out static or dynamic ones.

Holders are NIC ipConfigurations (VM NICs, and the NICs Azure creates for private endpoints and private link
services) and load balancer frontends. Azure reserves the first four addresses and the last one of every subnet.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from localcloud.arm import errors
from localcloud.arm.state import ArmState, Resource


def subnet_prefix(subnet: Resource) -> str:
    return str(subnet.properties["addressPrefix"])


class Allocator:
    """Hands out addresses for one write; addresses given earlier in the same write count as taken.

    Who holds what comes from the state's address index (index.py): checking an address and finding the lowest
    free one cost O(log n) in the subnet's size, not a scan of every NIC and load balancer."""

    def __init__(self, state: ArmState, exclude: set[str]):
        self._state = state
        self._exclude = exclude
        self._taken: dict[str, dict[str, str]] = {}  # subnet key -> ip -> config id, given in this write

    def _holder(self, subnet: Resource, ip: str) -> str | None:
        given = self._taken.get(subnet.key, {}).get(ip)
        return given if given is not None else self._state.index.holder(subnet.key, ip, self._exclude)

    def assign(self, subnet: Resource, config_id: str, method: str, requested: Any, previous: str | None) -> str:
        network = ipaddress.ip_network(subnet_prefix(subnet))
        taken = self._taken.setdefault(subnet.key, {})
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
            holder = self._holder(subnet, str(address))
            if holder is not None:
                raise errors.ip_in_use(config_id, str(address), holder)
            chosen = str(address)
        elif previous and _usable(network, previous) and self._holder(subnet, previous) is None:
            chosen = previous
        else:
            free = self._state.index.lowest_free(subnet.key, subnet_prefix(subnet), self._exclude, taken)
            if free is None:
                raise errors.subnet_full(subnet.id)
            chosen = free
        taken[chosen] = config_id
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
