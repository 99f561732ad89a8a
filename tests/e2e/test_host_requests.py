"""The app's HTTP API under the request conversion of the real Functions host, as localcloud's host now applies it.

The host passes a query parameter to a Python function only when its value is not empty (`ToRpcHttp` in
Azure/azure-functions-host `src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs`), so
`GET /links?top=` is a request without `top`: 200 with the default page size, not 400.
"""

from typing import Any

from azure.data.tables import TableClient

from tests.e2e.world import TABLE_PREFIX, World

DEFAULT_PAGE_SIZE = 50  # functions/links.py


def stored_links(world: World) -> TableClient:
    return TableClient.from_connection_string(
        world.endpoints["storage"]["connectionString"], table_name=f"{TABLE_PREFIX}Links"
    )


def more_links_than_a_page(world: World) -> None:
    """One link through the API, then its stored record copied under other names until a page overflows."""
    network = world.network()
    answer = world.put_link("paged", world.link_body(network))
    assert answer.status_code in (201, 202), answer.text
    with stored_links(world) as table:
        records = list(table.query_entities("PartitionKey eq @name", parameters={"name": "paged"}))
        assert records
        for number in range(DEFAULT_PAGE_SIZE):
            for record in records:
                table.upsert_entity({**record, "PartitionKey": f"paged-{number:02d}"})


def page(world: World, query: str) -> dict[str, Any]:
    answer = world.api.get(f"/links{query}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_an_empty_top_is_no_top_and_lists_a_default_page(world: World) -> None:
    assert page(world, "?top=")["value"] == []  # nothing stored yet: 200, not 400
    more_links_than_a_page(world)

    without_top = page(world, "")
    empty_top = page(world, "?top=")
    assert len(empty_top["value"]) == DEFAULT_PAGE_SIZE
    assert f"top={DEFAULT_PAGE_SIZE}&" in empty_top["nextLink"]
    assert empty_top == without_top

    # the empty value is skipped when repeated values are joined, so the other one counts
    two = page(world, "?top=&top=2")
    assert len(two["value"]) == 2
    assert "top=2&" in two["nextLink"]
    # a value that is present but wrong is still refused
    assert world.api.get("/links?top=0").status_code == 400
