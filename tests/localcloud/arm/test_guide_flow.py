"""The guide's whole flow through the unmodified aio SDK and the managed identity credential."""

from __future__ import annotations

import re

import httpx
from azure.identity.aio import ManagedIdentityCredential
from azure.mgmt.network.aio import NetworkManagementClient

from tests.localcloud.arm.support import (
    ARM_SCOPE,
    EMQX_CLIENT,
    EMQX_RG,
    EMQX_SUB,
    PROVIDER_SUB,
    RG,
    Cloud,
    TcpListener,
    consumer,
    lb_body,
    nic_body,
    pe_body,
    pls_body,
    vnet_body,
)
from tests.waiting import eventually_async


def _client(cloud: Cloud, credential: ManagedIdentityCredential, subscription: str) -> NetworkManagementClient:
    return NetworkManagementClient(
        credential, subscription, base_url=cloud.arm, credential_scopes=[ARM_SCOPE], connection_verify=cloud.ca_bundle
    )


async def test_guide_flow_from_load_balancer_to_a_reachable_private_endpoint(cloud: Cloud, listener: TcpListener):
    async with ManagedIdentityCredential() as credential, _client(cloud, credential, PROVIDER_SUB) as network:
        await (await network.virtual_networks.begin_create_or_update(RG, "vnet", vnet_body("10.1.0.0/16"))).result()
        subnet = await (
            await network.subnets.begin_create_or_update(
                RG, "vnet", "default", {"properties": {"addressPrefix": "10.1.0.0/24"}}
            )
        ).result()
        assert subnet.private_link_service_network_policies == "Enabled"
        assert subnet.private_endpoint_network_policies == "Disabled"
        nic = await (
            await network.network_interfaces.begin_create_or_update(RG, "demo-redis-nic", nic_body(subnet.id))
        ).result()

        lb = await (
            await network.load_balancers.begin_create_or_update(RG, "test01", lb_body("test01", subnet.id))
        ).result()
        frontend = lb.frontend_ip_configurations[0]
        assert (frontend.name, frontend.private_ip_address, lb.sku.name) == ("demo-redis", "10.1.0.9", "Standard")
        nat_rule = lb.inbound_nat_rules[0]
        assert (nat_rule.frontend_port, nat_rule.backend_port) == (6379, 6379)

        nic = await network.network_interfaces.get(RG, "demo-redis-nic")
        nic.ip_configurations[0].load_balancer_backend_address_pools = [{"id": lb.backend_address_pools[0].id}]
        nic.ip_configurations[0].load_balancer_inbound_nat_rules = [{"id": nat_rule.id}]
        nic = await (await network.network_interfaces.begin_create_or_update(RG, "demo-redis-nic", nic)).result()
        lb = await network.load_balancers.get(RG, "test01")
        nic_config = nic.ip_configurations[0].id
        assert [c.id for c in lb.backend_address_pools[0].backend_ip_configurations] == [nic_config]
        assert lb.inbound_nat_rules[0].backend_ip_configuration.id == nic_config

        subnet = await network.subnets.get(RG, "vnet", "default")
        subnet.private_link_service_network_policies = "Disabled"
        await (await network.subnets.begin_create_or_update(RG, "vnet", "default", subnet)).result()

        pls = await (
            await network.private_link_services.begin_create_or_update(
                RG, "demo", pls_body(frontend.id, subnet.id, visible_to=[EMQX_SUB])
            )
        ).result()
        assert pls.provisioning_state == "Succeeded"
        assert re.fullmatch(r"demo\.[0-9a-f-]{36}\.westeurope\.azure\.privatelinkservice", pls.alias)

    async with (
        ManagedIdentityCredential(client_id=EMQX_CLIENT) as emqx_credential,
        _client(cloud, emqx_credential, EMQX_SUB) as emqx,
    ):
        await (
            await emqx.virtual_networks.begin_create_or_update(
                EMQX_RG, "emqx-vnet", vnet_body("10.200.0.0/16", {"endpoints": "10.200.0.0/24"})
            )
        ).result()
        subnet_id = consumer("virtualNetworks", "emqx-vnet", "subnets", "endpoints")
        pe = await (
            await emqx.private_endpoints.begin_create_or_update(EMQX_RG, "emqx-pe", pe_body(subnet_id, pls.alias))
        ).result()
        state = pe.manual_private_link_service_connections[0].private_link_service_connection_state
        assert state.status == "Pending"
        pe_ip = pe.custom_dns_configs[0].ip_addresses[0]
        pe_nic = await emqx.network_interfaces.get(EMQX_RG, pe.network_interfaces[0].id.rsplit("/", 1)[1])
        assert pe_nic.ip_configurations[0].private_ip_address == pe_ip == "10.200.0.4"

        async with ManagedIdentityCredential() as credential, _client(cloud, credential, PROVIDER_SUB) as network:
            connections = [c async for c in network.private_link_services.list_private_endpoint_connections(RG, "demo")]
            # Connection names are <peName>.<pe resourceGuid> (not in the SDK's PE model, but in the body).
            assert [c.name for c in connections] == [f"emqx-pe.{pe.as_dict()['properties']['resourceGuid']}"]
            assert connections[0].private_link_service_connection_state.status == "Pending"
            approved = await network.private_link_services.update_private_endpoint_connection(
                RG,
                "demo",
                connections[0].name,
                {
                    "name": connections[0].name,
                    "properties": {"privateLinkServiceConnectionState": {"status": "Approved", "description": "EMQX"}},
                },
            )
            assert approved.provisioning_state == "Updating"
            # The SDK returns the Updating object; poll it until Succeeded, as a product must.
            current = await eventually_async(
                lambda: network.private_link_services.get_private_endpoint_connection(RG, "demo", approved.name),
                "the approval to succeed",
                5.0,
                accept=lambda current: current.provisioning_state == "Succeeded",
                interval=0.01,
            )
            assert current.provisioning_state == "Succeeded"

        pe = await emqx.private_endpoints.get(EMQX_RG, "emqx-pe")
        assert pe.manual_private_link_service_connections[0].private_link_service_connection_state.status == "Approved"

    async with httpx.AsyncClient(base_url=cloud.arm, verify=cloud.tls) as control:
        seeded = await control.put(
            "/localcloud/vms/demo-redis", json={"nicId": nic.id, "ports": {"6379": listener.address}}
        )
        assert seeded.status_code == 201
        answer = (
            await control.post(
                "/localcloud/dataplane/connect", json={"sourceSubscriptionId": EMQX_SUB, "ip": pe_ip, "port": 6379}
            )
        ).json()
    assert answer == {
        "reachable": True,
        "host": "127.0.0.1",
        "port": listener.port,
        "hops": [pe.id, approved.id, pls.id, frontend.id, nat_rule.id, nic_config],
    }
    assert listener.wait_for_accepts(1)
