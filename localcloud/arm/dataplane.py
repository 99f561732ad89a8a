"""The data path behind a private endpoint IP, followed through the model to a real listener.

PE NIC IP -> private endpoint -> its connection (must be Approved) -> PLS -> the PLS's load balancer frontends ->
an inbound NAT rule (the NIC ipConfiguration bound to it) or a load-balancing rule (the pool's NICs, whose TCP
health probe must reach a listener on that VM) with that frontend port -> backend port -> the VM's real listener,
which is really connected to before the answer says `reachable`.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from localcloud.arm.balancers import frontend_ports
from localcloud.arm.ids import key, parse_id
from localcloud.arm.links import nic_configs_referencing
from localcloud.arm.privatelink import find_service
from localcloud.arm.state import ArmState, Resource, VirtualMachine

CONNECT_TIMEOUT = 2.0


class UnreachableError(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def parse_request(body: Any) -> tuple[str, str, int]:
    """(sourceSubscriptionId, ip, port) from the request body, or ValueError naming the bad field."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    subscription, ip, port = body.get("sourceSubscriptionId"), body.get("ip"), body.get("port")
    if not isinstance(subscription, str) or not subscription:
        raise ValueError("'sourceSubscriptionId' is required")
    try:
        ipaddress.ip_address(str(ip))
    except ValueError as exc:
        raise ValueError("'ip' must be an IP address") from exc
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError("'port' must be an integer in [1, 65535]")
    return subscription, str(ip), port


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


async def listening(address: str) -> bool:
    host, port = split_address(address)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
    except (OSError, TimeoutError):
        return False
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        return True
    return True


async def resolve(state: ArmState, subscription: str, ip: str, port: int) -> dict[str, Any]:
    try:
        return await _resolve(state, subscription, ip, port)
    except UnreachableError as exc:
        return {"reachable": False, "reason": exc.reason, "detail": exc.detail}


def _endpoint_for(state: ArmState, subscription: str, ip: str) -> Resource:
    prefix = f"/subscriptions/{subscription}/".lower()
    for nic in state.of_type("networkInterfaces"):
        owner = nic.extra.get("owner")
        if not nic.key.startswith(prefix) or not owner or owner[0] != "privateEndpoint":
            continue
        if any(c["properties"].get("privateIPAddress") == ip for c in nic.properties["ipConfigurations"]):
            endpoint = state.get(owner[1])
            if endpoint is not None:
                return endpoint
    raise UnreachableError("no_endpoint", f"no private endpoint NIC holds {ip} in subscription {subscription}")


async def _resolve(state: ArmState, subscription: str, ip: str, port: int) -> dict[str, Any]:
    endpoint = _endpoint_for(state, subscription, ip)
    entries = (
        endpoint.properties["manualPrivateLinkServiceConnections"]
        or endpoint.properties["privateLinkServiceConnections"]
    )
    target = entries[0]["properties"]["privateLinkServiceId"]
    pls = find_service(state, target)
    if pls is None:
        raise UnreachableError("pls_missing", f"the private link service {target} no longer exists")
    connection = state.get(endpoint.extra["connection_id"])
    status = connection.properties["privateLinkServiceConnectionState"]["status"] if connection else "Disconnected"
    if connection is None or status != "Approved":
        raise UnreachableError("not_approved", f"the private endpoint connection is {status}, not Approved")
    hops = [endpoint.id, connection.id, pls.id]
    for frontend in pls.properties["loadBalancerFrontendIpConfigurations"]:
        frontend_id = frontend["id"]
        parsed = parse_id(frontend_id)
        lb = state.get(parsed.top) if parsed else None
        if lb is None:
            continue
        for rule in lb.properties["inboundNatRules"]:
            p = rule["properties"]
            if _serves(p, frontend_id, port):
                rule_id = f"{lb.id}/inboundNatRules/{rule['name']}"
                if "backendAddressPool" in p:
                    # V2: frontend port start+i goes to the i-th member of the pool (in a stable order).
                    members = sorted(_backends(state, p["backendAddressPool"]["id"], "loadBalancerBackendAddressPools"))
                    index = port - p["frontendPortRangeStart"]
                    backends = members[index : index + 1]
                else:
                    backends = _backends(state, rule_id, "loadBalancerInboundNatRules")
                return await _answer([*hops, frontend_id, rule_id], backends, p["backendPort"], None, port)
        for rule in lb.properties["loadBalancingRules"]:
            p = rule["properties"]
            if _serves(p, frontend_id, port):
                rule_id = f"{lb.id}/loadBalancingRules/{rule['name']}"
                pool = p.get("backendAddressPool")
                backends = _backends(state, pool["id"], "loadBalancerBackendAddressPools") if pool else []
                probe = _probe_port(lb, p)
                backend_port = p["backendPort"] or port
                return await _answer([*hops, frontend_id, rule_id], backends, backend_port, probe, port)
    raise UnreachableError("no_rule", f"no inbound NAT rule or load-balancing rule serves frontend port {port}")


def _serves(rule: dict[str, Any], frontend_id: str, port: int) -> bool:
    ports = frontend_ports(rule) if rule.get("frontendPort") != 0 else range(1, 65536)
    return (
        key(rule["frontendIPConfiguration"]["id"]) == key(frontend_id)
        and rule["protocol"] in ("Tcp", "All")
        and port in ports
    )


def _probe_port(lb: Resource, rule: dict[str, Any]) -> int | None:
    probe_ref = rule.get("probe")
    if not probe_ref:
        return None
    name = probe_ref["id"].rsplit("/", 1)[1].lower()
    probe = next((p for p in lb.properties["probes"] if p["name"].lower() == name), None)
    return int(probe["properties"]["port"]) if probe else None


def _backends(state: ArmState, target_id: str, field: str) -> list[tuple[str, VirtualMachine | None]]:
    return [
        (config_id, state.vm_for_nic(config_id.split("/ipConfigurations/")[0]))
        for config_id in nic_configs_referencing(state, target_id, field)
    ]


async def _answer(
    hops: list[str],
    backends: list[tuple[str, VirtualMachine | None]],
    backend_port: int,
    probe_port: int | None,
    frontend_port: int,
) -> dict[str, Any]:
    if not backends:
        raise UnreachableError("no_backend", f"no NIC is bound to the rule serving port {frontend_port}")
    mapped = [(config_id, vm) for config_id, vm in backends if vm is not None]
    if not mapped:
        raise UnreachableError("vm_unmapped", f"backend {backends[0][0]} has no VM with real listeners mapped")
    refused = None
    probe_failed = None
    for config_id, vm in mapped:
        if probe_port is not None:
            probe_address = vm.ports.get(probe_port)
            if probe_address is None or not await listening(probe_address):
                probe_failed = f"the health probe on port {probe_port} of VM {vm.name} gets no answer"
                continue
        address = vm.ports.get(backend_port)
        if address is None or not await listening(address):
            refused = f"VM {vm.name} has no listener on backend port {backend_port}"
            continue
        host, real_port = split_address(address)
        return {"reachable": True, "host": host, "port": real_port, "hops": [*hops, config_id]}
    if refused is not None:
        raise UnreachableError("connection_refused", refused)
    raise UnreachableError("probe_down", probe_failed or "every backend fails its health probe")
