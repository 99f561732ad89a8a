"""What ARM refuses when a NIC's ipConfiguration joins load balancer pools and inbound NAT rules (a NIC PUT).

- Two rules that deliver to the same ipConfiguration on the same backend port and protocol, neither with
  floating IP: 400 `RulesUseSameBackendPortProtocolAndIPConfig`. The message is ARM's, as Azure/azure-powershell#2042
  and hashicorp/terraform-provider-azurerm#84 quote it ("Load balancer rules {a} and {b} use the same backend port
  ({port}) and protocol ({protocol}), and must not be used with the same backend ip ({ipconfig})").
  A rule delivers to an ipConfiguration through a pool it is a member of (load-balancing rules and V2 inbound NAT
  rules) or directly (a V1 inbound NAT rule the ipConfiguration lists).
- An ipConfiguration joining an internal load balancer from another virtual network than the load balancer's
  frontend: 400. The message is ARM's as AutomatedLab/AutomatedLab#57 quotes it ("Network interface {nic} uses load
  balancer {lb} but does not use the same VNET ({vnet}) as other network interfaces already..."); no source found
  publishes its error code, so `localcloud/arm/README.md` lists the code used here as unverified.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localcloud.arm import errors
from localcloud.arm.ids import key, parse_id
from localcloud.arm.state import ArmState, Resource

# No public source shows the code of the VNet refusal (see the module docstring).
DIFFERENT_VNET_CODE = "NetworkInterfaceAndLoadBalancerAreInDifferentVnets"


@dataclass(frozen=True)
class Delivery:
    """A rule that forwards to an ipConfiguration: its id, backend port, protocol and floating IP."""

    rule_id: str
    backend_port: int
    protocol: str
    floating_ip: bool


def _load_balancer_of(state: ArmState, child_id: str) -> Resource | None:
    parsed = parse_id(child_id)
    return state.get(parsed.top) if parsed is not None else None


def _deliveries(state: ArmState, config: dict[str, Any]) -> list[Delivery]:
    found: dict[str, Delivery] = {}
    pools = {key(ref["id"]) for ref in config.get("loadBalancerBackendAddressPools") or []}
    for ref in config.get("loadBalancerInboundNatRules") or []:
        lb = _load_balancer_of(state, ref["id"])
        if lb is None:
            continue
        for rule in lb.properties["inboundNatRules"]:
            rule_id = f"{lb.id}/inboundNatRules/{rule['name']}"
            if key(rule_id) == key(ref["id"]):
                found[key(rule_id)] = _delivery(rule_id, rule["properties"])
    balancers = {lb.key: lb for ref in pools if (lb := _load_balancer_of(state, ref)) is not None}
    for lb in balancers.values():
        for kind in ("loadBalancingRules", "inboundNatRules"):
            for rule in lb.properties[kind]:
                pool = (rule["properties"].get("backendAddressPool") or {}).get("id")
                if pool and key(pool) in pools:
                    rule_id = f"{lb.id}/{kind}/{rule['name']}"
                    found[key(rule_id)] = _delivery(rule_id, rule["properties"])
    return list(found.values())


def _delivery(rule_id: str, props: dict[str, Any]) -> Delivery:
    return Delivery(
        rule_id,
        int(props.get("backendPort") or props.get("frontendPort") or 0),
        str(props.get("protocol", "Tcp")),
        bool(props.get("enableFloatingIP", False)),
    )


def _overlap(a: Delivery, b: Delivery) -> bool:
    protocols = {a.protocol, b.protocol}
    same_protocol = a.protocol == b.protocol or "All" in protocols
    return a.backend_port == b.backend_port and same_protocol and not (a.floating_ip or b.floating_ip)


def check_backend_bindings(state: ArmState, nic_id: str, configs: list[dict[str, Any]]) -> None:
    """Refuse the NIC's ipConfigurations (as they will be stored) where ARM would."""
    for config in configs:
        props = config["properties"]
        config_id = f"{nic_id}/ipConfigurations/{config['name']}"
        deliveries = sorted(_deliveries(state, props), key=lambda d: d.rule_id.lower())
        for index, first in enumerate(deliveries):
            for second in deliveries[index + 1 :]:
                if _overlap(first, second):
                    raise errors.ArmError(
                        400,
                        "RulesUseSameBackendPortProtocolAndIPConfig",
                        f"Load balancer rules {first.rule_id} and {second.rule_id} use the same backend port "
                        f"({first.backend_port}) and protocol ({first.protocol}), and must not be used with the same "
                        f"backend ip ({config_id}).",
                        details=[],
                    )
        _check_same_vnet(state, nic_id, props)


def _vnet_of(subnet_id: str) -> str:
    return subnet_id.lower().split("/subnets/", 1)[0]


def _check_same_vnet(state: ArmState, nic_id: str, props: dict[str, Any]) -> None:
    nic_vnet = _vnet_of(props["subnet"]["id"])
    refs = [*(props.get("loadBalancerBackendAddressPools") or []), *(props.get("loadBalancerInboundNatRules") or [])]
    for ref in refs:
        lb = _load_balancer_of(state, ref["id"])
        if lb is None:
            continue
        for frontend in lb.properties["frontendIPConfigurations"]:
            subnet = (frontend["properties"].get("subnet") or {}).get("id")
            if subnet and _vnet_of(subnet) != nic_vnet:
                vnet = subnet.split("/subnets/", 1)[0]
                raise errors.ArmError(
                    400,
                    DIFFERENT_VNET_CODE,
                    f"Network interface {nic_id} uses load balancer {lb.id} but does not use the same VNET ({vnet}) "
                    "as other network interfaces already using the load balancer.",
                    details=[],
                )
