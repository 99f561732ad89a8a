"""The data path behind a private endpoint IP: every reason of the contract, and real listeners."""

from __future__ import annotations

from typing import Any

import pytest
from azure.mgmt.network import NetworkManagementClient

from tests.localcloud.arm.support import (
    EMQX_SUB,
    PROVIDER_SUB,
    RG,
    Cloud,
    Link,
    TcpListener,
    closed_port,
    endpoint,
    provision,
)
from tests.waiting import eventually


def connect(cloud: Cloud, ip: str, port: int = 6379, subscription: str = EMQX_SUB) -> dict[str, Any]:
    with cloud.control() as control:
        answer = control.post(
            "/localcloud/dataplane/connect", json={"sourceSubscriptionId": subscription, "ip": ip, "port": port}
        )
    assert answer.status_code == 200
    return dict(answer.json())


def seed_vm(cloud: Cloud, nic_id: str, ports: dict[str, str]) -> None:
    with cloud.control() as control:
        assert control.put("/localcloud/vms/demo-redis", json={"nicId": nic_id, "ports": ports}).status_code in (
            200,
            201,
        )


def approve(network: NetworkManagementClient) -> str:
    """Approve the one connection and wait until the approval finished (the next write would meet a 409)."""
    connection = next(iter(network.private_link_services.list_private_endpoint_connections(RG, "demo")))
    network.private_link_services.update_private_endpoint_connection(
        RG, "demo", connection.name, {"properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}}
    )
    eventually(
        lambda: network.private_link_services.get_private_endpoint_connection(RG, "demo", connection.name),
        "the approval to finish",
        5.0,
        accept=lambda approved: approved.provisioning_state == "Succeeded",
        interval=0.005,
    )
    return str(connection.name)


def pe_ip(pe: Any) -> str:
    return str(pe.custom_dns_configs[0].ip_addresses[0])


def reason(answer: dict[str, Any]) -> str | None:
    assert answer["reachable"] is False and answer["detail"]
    return str(answer["reason"])


def test_nat_rule_path_from_pending_to_reachable(
    cloud: Cloud, network: NetworkManagementClient, emqx_network: NetworkManagementClient, listener: TcpListener
):
    link = provision(network)
    pe = endpoint(emqx_network, link.alias)
    ip = pe_ip(pe)
    assert reason(connect(cloud, "10.200.0.99")) == "no_endpoint"
    assert reason(connect(cloud, ip, subscription=PROVIDER_SUB)) == "no_endpoint"
    assert reason(connect(cloud, ip)) == "not_approved"
    approve(network)
    assert reason(connect(cloud, ip, port=6380)) == "no_rule"
    assert reason(connect(cloud, ip)) == "vm_unmapped"
    seed_vm(cloud, link.nic_id, {"6380": listener.address})
    assert reason(connect(cloud, ip)) == "connection_refused"
    seed_vm(cloud, link.nic_id, {"6379": f"127.0.0.1:{closed_port()}"})
    assert reason(connect(cloud, ip)) == "connection_refused"
    seed_vm(cloud, link.nic_id, {"6379": listener.address})
    answer = connect(cloud, ip)
    assert (answer["reachable"], answer["host"], answer["port"]) == (True, "127.0.0.1", listener.port)
    assert answer["hops"][0] == pe.id and answer["hops"][-1] == f"{link.nic_id}/ipConfigurations/ipconfig1"
    assert listener.wait_for_accepts(1)
    with cloud.control() as control:
        assert control.get("/localcloud/vms").json()["vms"][0]["ports"] == {"6379": listener.address}
    assert network.network_interfaces.get(RG, "demo-redis-nic").virtual_machine.id.endswith(
        "/providers/Microsoft.Compute/virtualMachines/demo-redis"
    )


def test_nat_rule_without_a_bound_nic(
    cloud: Cloud, network: NetworkManagementClient, emqx_network: NetworkManagementClient
):
    link = provision(network, bind_nat=False)
    ip = pe_ip(endpoint(emqx_network, link.alias))
    approve(network)
    assert reason(connect(cloud, ip)) == "no_backend"


@pytest.fixture
def rule_link(network: NetworkManagementClient) -> Link:
    """A load-balancing rule 6379 -> 6379 over the NIC pool, with a TCP health probe on 6379."""
    return provision(network, nat_port=None, rule_port=6379, probe_port=6379, bind_pool=True)


def test_load_balancing_rule_needs_a_healthy_probe(
    cloud: Cloud,
    network: NetworkManagementClient,
    emqx_network: NetworkManagementClient,
    rule_link: Link,
    listener: TcpListener,
):
    ip = pe_ip(endpoint(emqx_network, rule_link.alias))
    approve(network)
    seed_vm(cloud, rule_link.nic_id, {"6379": f"127.0.0.1:{closed_port()}"})
    assert reason(connect(cloud, ip)) == "probe_down"
    seed_vm(cloud, rule_link.nic_id, {"6379": listener.address})
    answer = connect(cloud, ip)
    assert answer["reachable"] is True and answer["port"] == listener.port
    assert answer["hops"][4].endswith("/loadBalancingRules/redis-rule")
    assert listener.wait_for_accepts(2)  # the probe, then the connection


def test_removed_connection_then_removed_service(
    cloud: Cloud, network: NetworkManagementClient, emqx_network: NetworkManagementClient
):
    link = provision(network)
    ip = pe_ip(endpoint(emqx_network, link.alias))
    name = approve(network)
    network.private_link_services.begin_delete_private_endpoint_connection(RG, "demo", name).result()
    assert reason(connect(cloud, ip)) == "not_approved"
    pe = emqx_network.private_endpoints.get("emqx-privatelink", "emqx-pe")
    assert pe.manual_private_link_service_connections[0].private_link_service_connection_state.status == "Disconnected"
    network.private_link_services.begin_delete(RG, "demo").result()
    assert reason(connect(cloud, ip)) == "pls_missing"


def test_bad_requests(cloud: Cloud):
    with cloud.control() as control:
        for body in (
            {},
            {"sourceSubscriptionId": EMQX_SUB, "ip": "nope", "port": 1},
            {"sourceSubscriptionId": EMQX_SUB, "ip": "10.0.0.1", "port": 0},
        ):
            assert control.post("/localcloud/dataplane/connect", json=body).status_code == 400
        assert control.put("/localcloud/vms/x", json={"nicId": "not-an-id"}).status_code == 400
