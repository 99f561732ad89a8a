"""What must hold of a link whatever happened on the way: one of each resource, a sound record, every approval
audited once, and after removal nothing left.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.reliability.world import LinkPaths, ReliableWorld


def assert_one_of_each(world: ReliableWorld, paths: LinkPaths, name: str) -> None:
    """One load balancer and one Private Link Service in the link's group, and at most one EMQX PrivateLink."""
    balancers = [lb["name"] for lb in world.load_balancers(paths)]
    services = [pls["name"] for pls in world.private_link_services(paths)]
    assert balancers == [f"lb-{name}"], balancers
    assert services == [f"pls-{name}"], services
    alias = world.get_link(name)["status"].get("plsAlias")
    if alias:
        ours = [pl for pl in world.emqx_privatelinks() if pl["privateLinkServiceId"].lower() == alias.lower()]
        assert len(ours) <= 1, ours


def assert_record_intact(world: ReliableWorld, name: str, body: dict[str, Any], generation: int = 1) -> None:
    link = world.get_link(name)
    assert link["generation"] == generation, link["generation"]
    for section in ("azure", "emqx"):
        for key, value in body[section].items():
            stored = link["spec"][section][key]
            assert str(stored).lower() == str(value).lower(), (section, key, stored, value)


def approvals(world: ReliableWorld, name: str) -> Counter[str]:
    """How often each connection's approval is in the audit log."""
    return Counter(
        record["subject"]
        for record in world.audits(name)
        if record["action"] == "decide connection" and record["decision"] == "approve"
    )


def assert_approved_once(world: ReliableWorld, name: str) -> None:
    link = world.get_link(name)
    approved = {c["name"] for c in link["status"]["connections"] if c["status"] == "Approved"}
    audited = approvals(world, name)
    assert approved, link["status"]["connections"]
    assert set(audited) == approved and set(audited.values()) == {1}, (audited, approved)


def assert_nothing_left(world: ReliableWorld, paths: LinkPaths, name: str, alias: str | None) -> None:
    """After removal: no resource of the link in ARM, no NIC pointing into its balancer, no record, no PrivateLink."""
    assert world.load_balancers(paths) == []
    assert world.private_link_services(paths) == []
    balancer = f"{paths.load_balancer.lower()}/"
    assert [ref for ref in world.nic_references(paths) if ref.lower().startswith(balancer)] == []
    assert world.api.get(f"/links/{name}").status_code == 404
    if alias:
        assert [pl for pl in world.emqx_privatelinks() if pl["privateLinkServiceId"].lower() == alias.lower()] == []
