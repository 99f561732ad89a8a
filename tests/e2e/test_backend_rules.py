"""Backend rules as ARM enforces them, checked by the app before any write; inbound NAT rule V2, and a link built
with a V1 rule moved to V2 by its next reconcile, its Private Link Service untouched."""

from __future__ import annotations

import json

from azure.data.tables import TableClient, UpdateMode

from tests.e2e.world import TABLE_PREFIX, World


def group_of(network) -> str:  # type: ignore[no-untyped-def]
    return f"/subscriptions/{network.subscription_id}/resourceGroups/{network.resource_group}"


def test_a_second_link_on_the_same_nic_and_backend_port_is_refused_before_any_write(world: World) -> None:
    network = world.network()
    world.provision("port-first", world.link_body(network))
    world.reset_calls()
    taken = world.put_link("port-second", world.link_body(network, frontendPort=6380, backendPort=6379))
    assert taken.status_code == 409, taken.text
    error = taken.json()["error"]
    assert (error["code"], error["target"]) == ("BackendPortInUse", "azure.backendNicIds[0]")
    assert "link port-first's load balancer" in error["message"]
    assert world.arm_calls_under(group_of(network)) == []
    assert world.api.get("/links/port-second").status_code == 404
    other_port = world.put_link("port-second", world.link_body(network, frontendPort=6380, backendPort=6380))
    assert other_port.status_code in (201, 202), other_port.text


def test_a_nic_in_another_virtual_network_is_refused(world: World) -> None:
    network, far = world.network(), world.network()
    body = world.link_body(network)
    body["azure"]["backendNicIds"] = [far.nic_id]
    world.reset_calls()
    refused = world.put_link("far-nic", body)
    assert refused.status_code == 400, refused.text
    (detail,) = refused.json()["error"]["details"]
    assert detail["target"] == "azure.backendNicIds[0]"
    assert "virtual network" in detail["message"]
    assert world.arm_calls_under(group_of(network)) == []


def _as_a_v1_link(world: World, name: str, network) -> None:  # type: ignore[no-untyped-def]
    """Turn a provisioned link back into what an older version of the app built: a V1 NAT rule bound to the NIC,
    and a record that says so."""
    lb_id = f"{group_of(network)}/providers/Microsoft.Network/loadBalancers/lb-{name}"
    nic = world.arm_get(network.nic_id)
    assert nic is not None
    config = nic["properties"]["ipConfigurations"][0]
    config["properties"]["loadBalancerBackendAddressPools"] = []
    world.arm_put(network.nic_id, {"location": nic["location"], "properties": nic["properties"]})
    lb = world.arm_get(lb_id)
    assert lb is not None
    rule = lb["properties"]["inboundNatRules"][0]
    props = rule["properties"]
    for v2_only in ("frontendPortRangeStart", "frontendPortRangeEnd", "backendAddressPool"):
        props.pop(v2_only)
    props["frontendPort"] = 6379
    world.arm_put(
        lb_id, {"location": lb["location"], "sku": lb["sku"], "tags": lb["tags"], "properties": lb["properties"]}
    )
    config["properties"]["loadBalancerBackendAddressPools"] = [{"id": f"{lb_id}/backendAddressPools/pool-{name}"}]
    config["properties"]["loadBalancerInboundNatRules"] = [{"id": rule["id"]}]
    world.arm_put(network.nic_id, {"location": nic["location"], "properties": nic["properties"]})
    table = TableClient.from_connection_string(
        world.endpoints["storage"]["connectionString"], table_name=f"{TABLE_PREFIX}Links"
    )
    with table:
        entity = table.get_entity(name, "link")
        status = json.loads(entity["Status0"])
        status.pop("loadBalancerSchema", None)  # a record from before the schema existed
        assert "Status1" not in entity
        entity["Status0"] = json.dumps(status)
        table.update_entity(entity, mode=UpdateMode.MERGE)


def test_a_link_with_a_v1_nat_rule_moves_to_v2_on_its_next_reconcile(world: World) -> None:
    network, link = world.running_link("legacy")
    alias = link["status"]["plsAlias"]
    _as_a_v1_link(world, "legacy", network)
    lb_id = f"{group_of(network)}/providers/Microsoft.Network/loadBalancers/lb-legacy"

    def migrated(record: dict) -> bool:
        lb = world.arm_get(lb_id) or {}
        rule = lb["properties"]["inboundNatRules"][0]["properties"]
        return "frontendPortRangeStart" in rule and record["status"].get("loadBalancerSchema") == 2

    after = world.wait_for("legacy", migrated)
    assert after["status"]["plsAlias"] == alias  # the same PLS: EMQX stays connected
    nic = world.arm_get(network.nic_id)
    config = nic["properties"]["ipConfigurations"][0]["properties"]
    assert not config.get("loadBalancerInboundNatRules")
    assert [p["id"].lower() for p in config["loadBalancerBackendAddressPools"]] == [
        f"{lb_id}/backendAddressPools/pool-legacy".lower()
    ]
    with TableClient.from_connection_string(
        world.endpoints["storage"]["connectionString"], table_name=f"{TABLE_PREFIX}Audit"
    ) as table:
        audits = [e for e in table.query_entities("PartitionKey eq 'legacy'") if e["action"] == "migrate NAT rule"]
    assert [(a["subject"], a["decision"]) for a in audits] == [("nat-legacy-6379", "V1 -> V2")]
    tested = world.api.post("/links/legacy/test")
    assert tested.status_code == 200 and tested.json()["result"]["passed"], tested.text
    world.delete_until_gone("legacy")
