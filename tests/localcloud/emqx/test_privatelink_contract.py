"""The api-mode PrivateLink contract at the wire, where it needs no Azure: shapes, validation, auth, limits."""

from __future__ import annotations

import re

from tests.localcloud.emqx.support import EMQX_SUBSCRIPTION, StandIn

ALIAS = "redis-pls.0d6e2f4c-1a2b-4c3d-8e9f-a0b1c2d3e4f5.eastus.azure.privatelinkservice"
PATH = "/deployments/w41b11c0/privatelinks"
RECORD_KEYS = {
    "privateLinkID",
    "deploymentID",
    "platform",
    "privateLinkServiceId",
    "status",
    "privateLinkIp",
    "statusReason",
    "createAt",
}


def test_create_answers_201_with_a_pending_record(emqx: StandIn) -> None:
    with emqx.platform() as client:
        created = client.post(PATH, json={"platform": "azure", "privateLinkServiceId": ALIAS})
        assert created.status_code == 201
        record = created.json()
        assert set(record) == RECORD_KEYS
        assert re.fullmatch(r"pl-[0-9a-f]{8}", record["privateLinkID"])
        assert record["deploymentID"] == "w41b11c0"
        assert record["privateLinkServiceId"] == ALIAS
        assert record["status"] == "pending"
        assert record["privateLinkIp"] is None
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", record["createAt"])

        fetched = client.get(f"{PATH}/{record['privateLinkID']}")
        listed = client.get(PATH)
    assert fetched.status_code == 200
    assert fetched.json()["privateLinkID"] == record["privateLinkID"]
    assert [r["privateLinkID"] for r in listed.json()] == [record["privateLinkID"]]


def test_validation_errors(emqx: StandIn) -> None:
    with emqx.platform() as client:
        not_json = client.post(PATH, content=b"{", headers={"content-type": "application/json"})
        not_object = client.post(PATH, json=["azure"])
        wrong_platform = client.post(PATH, json={"platform": "aws", "privateLinkServiceId": ALIAS})
        not_alias = client.post(PATH, json={"platform": "azure", "privateLinkServiceId": "/subscriptions/x/pls"})
        missing = client.post(PATH, json={"platform": "azure"})
    assert (not_json.status_code, not_json.json()["code"]) == (400, "BAD_REQUEST")
    assert not_object.status_code == 400
    for response, field in (
        (wrong_platform, "platform"),
        (not_alias, "privateLinkServiceId"),
        (missing, "privateLink"),
    ):
        assert response.status_code == 422
        assert response.json()["code"] == "UNPROCESSABLE_ENTITY"
        assert response.json()["message"].startswith(field)


def test_an_alias_is_linked_once_per_deployment(emqx: StandIn) -> None:
    with emqx.platform() as client:
        assert client.post(PATH, json={"platform": "azure", "privateLinkServiceId": ALIAS}).status_code == 201
        duplicate = client.post(PATH, json={"platform": "azure", "privateLinkServiceId": ALIAS.upper()})
    assert duplicate.status_code == 422
    assert "already" in duplicate.json()["message"]


def test_auth_scope_and_visibility(emqx: StandIn) -> None:
    with emqx.client() as anonymous:
        assert anonymous.get("/public_api/v1" + PATH).status_code == 401
    with emqx.platform(emqx.account.projects_only_key) as client:
        assert client.get(PATH).status_code == 403
    with emqx.platform(emqx.account.other_project_key) as client:
        assert client.get(PATH).status_code == 404
    with emqx.platform() as client:
        assert client.get("/deployments/w41b11c0/privatelinks/pl-00000000").status_code == 404
        assert client.delete("/deployments/w41b11c0/privatelinks/pl-00000000").status_code == 404


def test_a_pending_privatelink_cannot_be_deleted(emqx: StandIn) -> None:
    with emqx.platform() as client:
        record = client.post(PATH, json={"platform": "azure", "privateLinkServiceId": ALIAS}).json()
        response = client.delete(f"{PATH}/{record['privateLinkID']}")
    assert response.status_code == 422
    assert "running or failed" in response.json()["message"]


def test_changes_are_limited_to_6_per_hour_and_reads_to_60(emqx: StandIn) -> None:
    aliases = [ALIAS.replace("redis-pls", f"pls{i}") for i in range(7)]
    with emqx.platform() as client:
        statuses = [
            client.post(PATH, json={"platform": "azure", "privateLinkServiceId": alias}).status_code
            for alias in aliases
        ]
        reads = [client.get(PATH).status_code for _ in range(61)]
        refused = client.post(PATH, json={"platform": "azure", "privateLinkServiceId": ALIAS})
    assert statuses == [201] * 6 + [429]
    assert reads == [200] * 60 + [429]
    assert int(refused.headers["retry-after"]) > 3000


def test_the_console_creates_the_same_records(emqx: StandIn) -> None:
    with emqx.client() as console:
        created = console.post("/localcloud/console/privatelinks", json={"deploymentId": "w41b11c0", "alias": ALIAS})
        unknown = console.post("/localcloud/console/privatelinks", json={"deploymentId": "nope", "alias": ALIAS})
        bad_alias = console.post("/localcloud/console/privatelinks", json={"deploymentId": "w41b11c0", "alias": "x"})
        listing = console.get("/localcloud/console/privatelinks").json()
        one = console.get(f"/localcloud/console/privatelinks/{created.json()['privateLinkID']}")
    assert created.status_code == 201
    assert set(created.json()) == RECORD_KEYS
    assert (unknown.status_code, bad_alias.status_code) == (404, 422)
    assert listing["subscriptionId"] == EMQX_SUBSCRIPTION
    assert [r["privateLinkID"] for r in listing["privateLinks"]] == [created.json()["privateLinkID"]]
    assert one.json() == created.json()
    with emqx.platform() as client:
        assert client.get(f"{PATH}/{created.json()['privateLinkID']}").json()["status"] == "pending"
