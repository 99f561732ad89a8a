"""The resource types a hub-spoke network holds beside the guide's, registered with the router: route tables,
network security groups, application security groups, NAT gateways, public IP addresses and service endpoint
policies (one module each), with the children their bodies hold (embedded.py).
"""

from __future__ import annotations

from typing import Any

from localcloud.arm.embedded import EmbeddedChildren
from localcloud.arm.endpoint_policies import ServiceEndpointPolicies
from localcloud.arm.engine import Kind
from localcloud.arm.nat_gateways import NatGateways
from localcloud.arm.public_ips import PublicIPAddresses
from localcloud.arm.route_tables import RouteTables
from localcloud.arm.security_groups import ApplicationSecurityGroups, NetworkSecurityGroups


def extra_kinds() -> list[Kind]:
    return [
        RouteTables(),
        NetworkSecurityGroups(),
        ApplicationSecurityGroups(),
        NatGateways(),
        PublicIPAddresses(),
        ServiceEndpointPolicies(),
    ]


def extra_children(kinds: list[Kind]) -> dict[tuple[str, ...], Any]:
    """`(parent type, child type)` -> the handler of that child's paths, for every kind that declares children."""
    handlers: dict[tuple[str, ...], Any] = {}
    for kind in kinds:
        for child_type in getattr(kind, "children", ()):
            handlers[(*kind.types, child_type)] = EmbeddedChildren(kind, child_type, writable=True)
        for child_type in getattr(kind, "read_only_children", ()):
            handlers[(*kind.types, child_type)] = EmbeddedChildren(kind, child_type, writable=False)
    return handlers
