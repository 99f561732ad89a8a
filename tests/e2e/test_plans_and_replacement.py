"""Dry runs answer the plan and change nothing; a PLS replacement needs consent; the list is paged."""

from tests.e2e.world import World


def writes_under(world: World, group: str) -> list[dict]:
    return world.arm_calls_under(group)


def test_a_dry_run_put_answers_the_plan_and_changes_nothing(world: World) -> None:
    network = world.network()
    group = f"/subscriptions/{network.subscription_id}/resourceGroups/{network.resource_group}"
    world.reset_calls()
    answer = world.put_link("planned", world.link_body(network), dryRun="true")
    assert answer.status_code == 200, answer.text
    plan = answer.json()["plan"]
    targets = [(call["method"], call["target"].rsplit("/", 2)[-2]) for call in plan]
    assert targets == [
        ("PUT", "subnets"),
        ("PUT", "loadBalancers"),
        ("PUT", "networkInterfaces"),
        ("PUT", "privateLinkServices"),
    ], plan
    assert all(call["service"] == "arm" and call["why"] for call in plan)
    assert writes_under(world, group) == []
    assert world.api.get("/links/planned").status_code == 404


def test_a_dry_run_delete_answers_the_plan_and_changes_nothing(world: World) -> None:
    network, link = world.running_link("plan-delete")
    group = f"/subscriptions/{network.subscription_id}/resourceGroups/{network.resource_group}"
    world.reset_calls()
    answer = world.api.delete("/links/plan-delete", params={"dryRun": "true"})
    assert answer.status_code == 200, answer.text
    plan = answer.json()["plan"]
    services = [call["service"] for call in plan]
    assert services[0] == "emqx" and plan[0]["method"] == "DELETE", plan
    kinds = [call["target"].lower() for call in plan[1:]]
    assert any("privatelinkservices" in k and "privateendpointconnections" not in k for k in kinds)
    assert kinds[-1].endswith("/loadbalancers/lb-plan-delete")
    assert writes_under(world, group) == []
    after = world.get_link("plan-delete")
    assert after["status"]["phase"] == "running"
    assert after["status"]["emqx"]["id"] == link["status"]["emqx"]["id"]
    world.delete_until_gone("plan-delete")


def test_replacing_the_private_link_service_needs_consent(world: World) -> None:
    network = world.network()
    body = world.link_body(network)
    first = world.provision("replaced", body)
    alias = first["status"]["plsAlias"]
    moved = world.link_body(network, names={"frontend": "fe-moved"})
    refused = world.put_link("replaced", moved)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["target"]) == ("ReplacementRequired", "azure.names.frontend")
    assert world.get_link("replaced")["spec"]["azure"].get("names", {}).get("frontend") is None
    accepted = world.put_link("replaced", moved, allowReplace="true")
    assert accepted.status_code in (200, 202), accepted.text
    link = world.wait_for("replaced", lambda link: link["status"].get("plsAlias") not in (None, alias))
    pls = world.arm_get(str(link["status"]["resources"]["privateLinkServiceId"]))
    assert pls["properties"]["loadBalancerFrontendIpConfigurations"][0]["id"].lower().endswith("/fe-moved")
    world.delete_until_gone("replaced")


def test_the_list_is_paged(world: World) -> None:
    network = world.network()
    for port, name in enumerate(("page-a", "page-b", "page-c"), start=7000):
        # One NIC, so one backend port each: ARM refuses two rules on one port and IP configuration.
        body = world.link_body(network, frontendPort=port, backendPort=port, names={"loadBalancer": f"lb-{name}"})
        answer = world.put_link(name, body)
        assert answer.status_code in (201, 202), answer.text
    seen: list[str] = []
    url = "/links?top=2"
    pages = 0
    while url:
        answer = world.api.get(url)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["value"]) <= 2
        seen += [link["name"] for link in page["value"]]
        url = page.get("nextLink", "")
        url = url.split("/api", 1)[1] if url else ""
        pages += 1
    assert {"page-a", "page-b", "page-c"} <= set(seen)
    assert len(seen) == len(set(seen))
    assert pages >= 2
