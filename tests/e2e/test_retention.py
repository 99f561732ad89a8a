"""The monitor forgets Event Grid de-duplication rows Event Grid can no longer redeliver, and old audit records."""

from __future__ import annotations

import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient

from tests.e2e.world import TABLE_PREFIX, World


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
        deadline = time.monotonic() + 30
        while True:
            world.run_monitor()
            event_keys = {row["RowKey"] for row in events.list_entities()}
            actions = {row["action"] for row in audit.query_entities("PartitionKey eq 'retention'")}
            if "aa-stale" not in event_keys and "ancient" not in actions:
                break
            assert time.monotonic() < deadline, (event_keys, actions)
            time.sleep(0.5)
        assert "bb-fresh" in event_keys
        assert actions == {"recent"}
