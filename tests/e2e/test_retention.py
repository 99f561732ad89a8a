"""The monitor forgets Event Grid de-duplication rows Event Grid can no longer redeliver, and old audit records."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime, timedelta

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient

from tests.e2e.world import TABLE_PREFIX, World
from tests.waiting import eventually


def table(world: World, suffix: str) -> TableClient:
    client = TableClient.from_connection_string(
        world.endpoints["storage"]["connectionString"], table_name=f"{TABLE_PREFIX}{suffix}"
    )
    with suppress(ResourceExistsError):
        client.create_table()
    return client


def row_key(at: datetime) -> str:
    return f"{at:%Y%m%dT%H%M%S%fZ}-0000abcd"


def test_the_monitor_forgets_what_no_one_needs_any_more(world: World) -> None:
    now = datetime.now(UTC)
    with table(world, "Events") as events, table(world, "Audit") as audit:
        events.upsert_entity({"PartitionKey": "aa", "RowKey": "aa-stale", "SeenAt": now - timedelta(hours=30)})
        events.upsert_entity({"PartitionKey": "bb", "RowKey": "bb-fresh", "SeenAt": now - timedelta(hours=2)})
        for key, age in (("ancient", timedelta(days=120)), ("recent", timedelta(days=3))):
            audit.upsert_entity(
                {"PartitionKey": "retention", "RowKey": row_key(now - age), "actor": "test", "action": key}
            )

        def kept() -> tuple[set[str], set[str]]:
            world.run_monitor()
            event_keys = {row["RowKey"] for row in events.list_entities()}
            actions = {row["action"] for row in audit.query_entities("PartitionKey eq 'retention'")}
            return event_keys, actions

        event_keys, actions = eventually(
            kept,
            "the monitor to forget the stale event and the ancient audit record",
            30,
            accept=lambda found: "aa-stale" not in found[0] and "ancient" not in found[1],
            interval=0.5,
        )
        assert "bb-fresh" in event_keys
        assert actions == {"recent"}
