"""Reverse indexes over the stored resources, so that no check scans every NIC and load balancer.

When a resource is stored (`ArmState.put`) or dropped, its body is reduced to the facts other resources' checks
read: which private addresses it holds in which subnet, and which resources its `{"id"}` references name (a
subnet's route table, a NIC ip configuration's pools and public IP, a private link service's load balancer...).
The checks (addressing.py, links.py, associations.py, ...) ask these indexes, so handing out an address or
finding a resource's users costs O(1) amortised (plus the size of the answer) whatever the number of resources.

Answers keep the order the scans they replace gave: referrers in the order they were first stored (the order of
`ArmState.resources`), each referrer's entries in body order. A body changed in place must be stored again
(`ArmState.put`) for its facts to follow.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from localcloud.arm.ids import key, parse_id

if TYPE_CHECKING:
    from localcloud.arm.state import Resource

# Relations: (relation, target key) -> referrer key -> payloads.
SUBNET_NICS = "ipConfigurations in subnet"  # payload: (ip configuration id, private IP or None)
SUBNET_FRONTENDS = "frontendIPConfigurations in subnet"  # payload: (frontend id, private IP or None)
SUBNET_ENDPOINTS = "privateEndpoints in subnet"  # payload: private endpoint id
NIC_BALANCERS = "networkInterfaces bound to loadBalancer"  # payload: NIC id (pools and NAT rules of that LB)
SERVICE_BALANCERS = "privateLinkServices on loadBalancer"  # payload: PLS id (its frontends on that LB)
NAT_GATEWAY_PUBLIC_IPS = "natGateways using publicIPAddress"  # payload: NAT gateway id
FRONTEND_PUBLIC_IPS = "frontendIPConfigurations using publicIPAddress"  # payload: frontend id
RULE_ASGS = "securityRules naming applicationSecurityGroup"  # payload: security rule id

# `{"id"}` fields whose targets are indexed, by what holds them (payload: the holder's id).
SUBNET_FIELDS = ("networkSecurityGroup", "routeTable", "natGateway", "serviceEndpointPolicies")
NIC_FIELDS = ("networkSecurityGroup",)
CONFIG_FIELDS = (
    "publicIPAddress",
    "applicationSecurityGroups",
    "loadBalancerBackendAddressPools",
    "loadBalancerInboundNatRules",
)

# Address holders in scan order: NIC ip configurations before load balancer frontends.
_HOLDER_GROUPS = {SUBNET_NICS: 0, SUBNET_FRONTENDS: 1}

Fact = tuple[str, str, Any]


def subnet_field(field: str) -> str:
    return f"subnet.{field}"


def nic_field(field: str) -> str:
    return f"networkInterface.{field}"


def config_field(field: str) -> str:
    return f"ipConfiguration.{field}"


def alias_of(pls: Resource) -> str:
    """A private link service's alias (`{name}.{guid}.{region}.azure.privatelinkservice`)."""
    return f"{pls.rid.name.lower()}.{pls.extra['alias_guid']}.{pls.location}.azure.privatelinkservice"


def _ids(value: Any) -> list[str]:
    refs = value if isinstance(value, list) else [value] if value else []
    return [str(ref["id"]) for ref in refs if isinstance(ref, dict) and isinstance(ref.get("id"), str)]


def _keys(value: Any) -> list[str]:
    """The distinct keys of the references in a `{"id"}` field or list, in body order."""
    return list(dict.fromkeys(key(ref) for ref in _ids(value)))


def _balancer_of(reference: str) -> str | None:
    parsed = parse_id(reference)
    return parsed.top.key if parsed is not None and parsed.types[0] == "loadBalancers" else None


def facts(resource: Resource) -> list[Fact]:
    """What one stored resource contributes to the indexes."""
    types, props, own = resource.rid.types, resource.properties, resource.id
    found: list[Fact] = []
    if types == ("networkInterfaces",):
        found += [(nic_field(f), target, own) for f in NIC_FIELDS for target in _keys(props.get(f))]
        balancers: dict[str, None] = {}
        for config in props.get("ipConfigurations", []):
            config_props, config_id = config["properties"], f"{own}/ipConfigurations/{config['name']}"
            subnet = config_props.get("subnet")
            if isinstance(subnet, dict) and isinstance(subnet.get("id"), str):
                found.append((SUBNET_NICS, key(subnet["id"]), (config_id, config_props.get("privateIPAddress"))))
            for field in CONFIG_FIELDS:
                found += [(config_field(field), target, config_id) for target in _keys(config_props.get(field))]
            for field in ("loadBalancerBackendAddressPools", "loadBalancerInboundNatRules"):
                for ref in _ids(config_props.get(field)):
                    balancer = _balancer_of(ref)
                    if balancer is not None:
                        balancers[balancer] = None
        found += [(NIC_BALANCERS, balancer, own) for balancer in balancers]
    elif types == ("loadBalancers",):
        for frontend in props.get("frontendIPConfigurations", []):
            frontend_props, frontend_id = frontend["properties"], f"{own}/frontendIPConfigurations/{frontend['name']}"
            subnet = frontend_props.get("subnet")
            if isinstance(subnet, dict) and isinstance(subnet.get("id"), str):
                payload = (frontend_id, frontend_props.get("privateIPAddress"))
                found.append((SUBNET_FRONTENDS, key(subnet["id"]), payload))
            found += [(FRONTEND_PUBLIC_IPS, t, frontend_id) for t in _keys(frontend_props.get("publicIPAddress"))]
    elif types == ("virtualNetworks", "subnets"):
        found += [(subnet_field(f), target, own) for f in SUBNET_FIELDS for target in _keys(props.get(f))]
    elif types == ("privateEndpoints",):
        found += [(SUBNET_ENDPOINTS, target, own) for target in _keys(props.get("subnet"))]
    elif types == ("privateLinkServices",):
        balancers = {}
        for ref in _ids(props.get("loadBalancerFrontendIpConfigurations")):
            parsed = parse_id(ref)
            if parsed is not None and parsed.types == ("loadBalancers", "frontendIPConfigurations"):
                balancers[parsed.top.key] = None
        found += [(SERVICE_BALANCERS, balancer, own) for balancer in balancers]
    elif types == ("natGateways",):
        found += [(NAT_GATEWAY_PUBLIC_IPS, target, own) for target in _keys(props.get("publicIpAddresses"))]
    elif types == ("networkSecurityGroups",):
        for rule in props.get("securityRules", []):
            rule_props, rule_id = rule["properties"], f"{own}/securityRules/{rule['name']}"
            refs = [
                *(rule_props.get("sourceApplicationSecurityGroups") or []),
                *(rule_props.get("destinationApplicationSecurityGroups") or []),
            ]
            found += [(RULE_ASGS, target, rule_id) for target in _keys(refs)]
    return found


@dataclass
class _Holder:
    group: int
    resource_key: str
    holder_id: str
    position: int


class _Offsets:
    """The held addresses of one subnet prefix as sorted offsets from its network address (only the allocatable
    ones: from 4 to the one before the broadcast address), so the lowest free one is a binary search away."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.network = ipaddress.ip_network(prefix)
        self.base = int(self.network.network_address)
        self.last = self.network.num_addresses - 1  # the broadcast address: never handed out
        self.counts: dict[int, int] = {}
        self.held: list[int] = []

    def offset(self, ip: str | None) -> int | None:
        if not ip:
            return None
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        offset = int(address) - self.base
        return offset if address.version == self.network.version and 4 <= offset < self.last else None

    def add(self, ip: str | None) -> None:
        offset = self.offset(ip)
        if offset is None:
            return
        self.counts[offset] = self.counts.get(offset, 0) + 1
        if self.counts[offset] == 1:
            bisect.insort(self.held, offset)

    def discard(self, ip: str | None) -> None:
        offset = self.offset(ip)
        if offset is None or offset not in self.counts:
            return
        self.counts[offset] -= 1
        if not self.counts[offset]:
            del self.counts[offset]
            del self.held[bisect.bisect_left(self.held, offset)]

    def free_after(self, after: int) -> int:
        """The lowest offset above `after` that nobody holds (it may be `last` or beyond: none left).

        The held offsets from `after + 1` on are sorted and distinct, so they run `after + 1, after + 2, ...`
        exactly up to the first gap: binary search for the first one out of that run."""
        start = after + 1
        first = bisect.bisect_left(self.held, start)
        low, high = first, len(self.held)
        while low < high:
            middle = (low + high) // 2
            if self.held[middle] == start + (middle - first):
                low = middle + 1
            else:
                high = middle
        return start + (low - first)

    def address(self, offset: int) -> str:
        return str(ipaddress.ip_address(self.base + offset))


class ReferenceIndex:
    """The indexes of one ArmState; `order(key)` is a stored resource's rank in `ArmState.resources`."""

    def __init__(self, order: Callable[[str], int]):
        self._order = order
        self.clear()

    def clear(self) -> None:
        self._facts: dict[str, list[Fact]] = {}
        self._targets: dict[tuple[str, str], dict[str, list[Any]]] = {}
        self._addresses: dict[str, dict[str, list[_Holder]]] = {}
        self._offsets: dict[str, _Offsets] = {}
        self._aliases: dict[str, str] = {}  # PLS alias -> key
        self._alias_keys: dict[str, str] = {}  # PLS key -> alias

    # maintenance

    def update(self, resource: Resource) -> None:
        """(Re)index a stored resource from its current body."""
        self.remove(resource.key)
        found = facts(resource)
        self._facts[resource.key] = found
        for position, (relation, target, payload) in enumerate(found):
            self._targets.setdefault((relation, target), {}).setdefault(resource.key, []).append(payload)
            if relation in _HOLDER_GROUPS and payload[1]:
                holder = _Holder(_HOLDER_GROUPS[relation], resource.key, payload[0], position)
                self._addresses.setdefault(target, {}).setdefault(payload[1], []).append(holder)
                if target in self._offsets:
                    self._offsets[target].add(payload[1])
        if resource.rid.types == ("privateLinkServices",) and "alias_guid" in resource.extra:
            alias = alias_of(resource)
            self._aliases[alias] = resource.key
            self._alias_keys[resource.key] = alias

    def remove(self, resource_key: str) -> None:
        for relation, target, payload in self._facts.pop(resource_key, []):
            referrers = self._targets.get((relation, target))
            if referrers is not None:
                referrers.pop(resource_key, None)
                if not referrers:
                    del self._targets[(relation, target)]
            if relation in _HOLDER_GROUPS and payload[1]:
                by_ip = self._addresses.get(target, {})
                holders = [h for h in by_ip.get(payload[1], []) if h.resource_key != resource_key]
                removed = len(by_ip.get(payload[1], [])) - len(holders)
                if holders:
                    by_ip[payload[1]] = holders
                else:
                    by_ip.pop(payload[1], None)
                    if not by_ip:
                        self._addresses.pop(target, None)
                if target in self._offsets:
                    for _ in range(removed):
                        self._offsets[target].discard(payload[1])
        alias = self._alias_keys.pop(resource_key, None)
        if alias is not None and self._aliases.get(alias) == resource_key:
            del self._aliases[alias]

    # queries

    def referrers(self, relation: str, target_key: str, exclude: Iterable[str] = ()) -> Iterator[tuple[str, list[Any]]]:
        """(referrer key, its payloads) for one target, in the order the referrers were first stored."""
        found = self._targets.get((relation, target_key))
        if not found:
            return iter(())
        skipped = set(exclude)
        return iter(sorted(((k, v) for k, v in found.items() if k not in skipped), key=lambda kv: self._order(kv[0])))

    def payloads(self, relation: str, target_key: str, exclude: Iterable[str] = ()) -> list[Any]:
        return [payload for _, payloads in self.referrers(relation, target_key, exclude) for payload in payloads]

    def first(self, relation: str, target_key: str, exclude: Iterable[str] = ()) -> Any:
        """The first payload of the earliest stored referrer, or None."""
        return next((payloads[0] for _, payloads in self.referrers(relation, target_key, exclude)), None)

    def holder(self, subnet_key: str, ip: str, exclude: Iterable[str] = ()) -> str | None:
        """Who holds `ip` in a subnet (resources in `exclude` do not count); when several do, the one a scan of the
        NICs, then the load balancers, met last."""
        skipped = set(exclude)
        holders = [h for h in self._addresses.get(subnet_key, {}).get(ip, []) if h.resource_key not in skipped]
        if not holders:
            return None
        return max(holders, key=lambda h: (h.group, self._order(h.resource_key), h.position)).holder_id

    def lowest_free(self, subnet_key: str, prefix: str, exclude: Iterable[str], taken: Iterable[str]) -> str | None:
        """The lowest allocatable address of the subnet that nobody outside `exclude` holds and that is not in
        `taken` (addresses given earlier in the same write); None when the subnet is full."""
        offsets = self._offsets.get(subnet_key)
        if offsets is None or offsets.prefix != prefix:
            offsets = _Offsets(prefix)
            for ip, holders in self._addresses.get(subnet_key, {}).items():
                for _ in holders:
                    offsets.add(ip)
            self._offsets[subnet_key] = offsets
        skipped = set(exclude)
        # Addresses only the excluded resources hold are free for this write.
        freed = sorted(
            {
                offset
                for ip, holders in self._own_addresses(subnet_key, skipped)
                if all(h.resource_key in skipped for h in holders) and (offset := offsets.offset(ip)) is not None
            }
        )
        busy = {offset for offset in map(offsets.offset, taken) if offset is not None}
        free, index = offsets.free_after(3), 0
        while True:
            if index < len(freed) and freed[index] < free:
                candidate, index = freed[index], index + 1
            else:
                candidate, free = free, offsets.free_after(free)
            if candidate >= offsets.last:
                return None
            if candidate not in busy:
                return offsets.address(candidate)

    def _own_addresses(self, subnet_key: str, resource_keys: set[str]) -> Iterator[tuple[str, list[_Holder]]]:
        by_ip = self._addresses.get(subnet_key, {})
        for resource_key in resource_keys:
            for relation, target, payload in self._facts.get(resource_key, []):
                if relation in _HOLDER_GROUPS and target == subnet_key and payload[1] in by_ip:
                    yield payload[1], by_ip[payload[1]]

    def service_by_alias(self, alias: str) -> str | None:
        return self._aliases.get(alias)

    def snapshot(self) -> dict[str, Any]:
        """Everything indexed, in a comparable form (tests check it against an index rebuilt from scratch)."""
        return {
            "targets": {target: [(k, list(v)) for k, v in self.referrers(*target)] for target in sorted(self._targets)},
            "addresses": {
                subnet: {ip: sorted(h.holder_id for h in holders) for ip, holders in sorted(by_ip.items())}
                for subnet, by_ip in sorted(self._addresses.items())
            },
            "aliases": dict(sorted(self._aliases.items())),
        }
