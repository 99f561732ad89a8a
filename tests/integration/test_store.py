"""The state store against a real Azurite: round trips, ETag concurrency, de-dup, rate budgets, paging, audit."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from localcloud.azurite import DEV_ACCOUNT, Azurite
from localcloud.processes import free_port
from shared.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PreconditionFailedError,
    TemporaryError,
    UpstreamError,
)
from shared.model import (
    MAX_HISTORY,
    AuditRecord,
    ConnectionState,
    Link,
    LinkSpec,
    LinkStatus,
    Phase,
    StepOutcome,
    StepRecord,
)
from shared.settings import Settings
from shared.store import Store
from tests.bodies import NETWORK, SUB, Deployment, FakeNetwork, link_body
from tests.integration.support import settings_for

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# The links stored here: one subnet, NICs by name (`spec`), the deployment's settings under short names.
LINK_NETWORK = FakeNetwork(
    SUB,
    "rg-demo",
    "eastus",
    f"{NETWORK}/virtualNetworks/vnet/subnets/default",
    f"{NETWORK}/networkInterfaces/redis-nic",
)
DEPLOYMENT = Deployment("w41b11c0", "https://w41b11c0.emqx.cloud:8443", "EMQX_KEY", "EMQX_SECRET", "REDIS_PASSWORD")


def spec(name: str = "demo", nic_names: list[str] | None = None) -> LinkSpec:
    nics = [f"{NETWORK}/networkInterfaces/{nic}" for nic in nic_names or ["redis-nic"]]
    body = link_body(
        LINK_NETWORK,
        DEPLOYMENT,
        backendNicIds=nics,
        forwarding="loadBalancingRule" if len(nics) > 1 else "natRule",
    )
    return LinkSpec.model_validate({"name": name, **body})


@pytest.fixture
async def other_stores(settings: Settings) -> AsyncIterator[list[Store]]:
    """Three more stores on the same tables, each with its own client and connections, as other processes have."""
    stores = [Store.from_settings(settings) for _ in range(3)]
    try:
        yield stores
    finally:
        for opened in stores:
            await opened.close()


def outcomes(results: list[Any]) -> tuple[list[Any], list[BaseException]]:
    return [r for r in results if not isinstance(r, BaseException)], [
        r for r in results if isinstance(r, BaseException)
    ]


# Links


async def test_a_link_round_trips(store: Store) -> None:
    status = LinkStatus(phase=Phase.AWAITING_APPROVAL, pls_alias="pls-demo.guid.eastus.azure.privatelinkservice")
    status.record_step(StepRecord(at=T0, step="provision", outcome=StepOutcome.SUCCEEDED, duration_ms=812.5))
    created = await store.create_link(Link(spec=spec(), status=status))
    assert created.etag

    read = await store.get_link("demo")
    assert read.spec == spec()
    assert read.status == status
    assert read.generation == 1
    assert read.etag == created.etag


async def test_creating_an_existing_link_conflicts(store: Store) -> None:
    await store.create_link(Link(spec=spec()))
    with pytest.raises(ConflictError) as caught:
        await store.create_link(Link(spec=spec(), generation=5))
    assert caught.value.__cause__ is not None
    assert (await store.get_link("demo")).generation == 1


async def test_concurrent_creates_have_one_winner(store: Store, other_stores: list[Store]) -> None:
    results = await asyncio.gather(
        *(s.create_link(Link(spec=spec())) for s in [store, *other_stores]), return_exceptions=True
    )
    created, refused = outcomes(results)
    assert len(created) == 1
    assert all(isinstance(error, ConflictError) for error in refused)
    assert len(refused) == 3


async def test_an_update_needs_the_current_etag(store: Store) -> None:
    created = await store.create_link(Link(spec=spec()))
    assert created.etag is not None
    created.status.phase = Phase.PROVISIONED
    updated = await store.update_link(created, created.etag)
    assert updated.etag not in (None, created.etag)
    assert (await store.get_link("demo")).status.phase is Phase.PROVISIONED

    updated.status.phase = Phase.FAILED
    with pytest.raises(PreconditionFailedError):
        await store.update_link(updated, created.etag)
    assert (await store.get_link("demo")).status.phase is Phase.PROVISIONED


async def test_of_two_concurrent_updates_exactly_one_wins(store: Store, other_stores: list[Store]) -> None:
    await store.create_link(Link(spec=spec()))
    for _ in range(5):
        # Both writers read the same version, then race.
        first, second = await asyncio.gather(store.get_link("demo"), other_stores[0].get_link("demo"))
        assert first.etag is not None and first.etag == second.etag
        first.status.message, second.status.message = "first", "second"
        results = await asyncio.gather(
            store.update_link(first, first.etag),
            other_stores[0].update_link(second, second.etag),
            return_exceptions=True,
        )
        [winner], [loser] = outcomes(results)
        assert isinstance(loser, PreconditionFailedError)
        stored = await store.get_link("demo")
        assert stored.status.message == winner.status.message
        assert stored.etag == winner.etag


async def test_missing_links(store: Store) -> None:
    with pytest.raises(NotFoundError):
        await store.get_link("absent")
    with pytest.raises(NotFoundError):
        await store.get_link("not/a link")
    with pytest.raises(NotFoundError):
        await store.update_link(Link(spec=spec("absent")), "W/\"datetime'2026-01-01T00%3A00%3A00Z'\"")


async def test_delete_is_conditional_and_succeeds_when_already_gone(store: Store) -> None:
    created = await store.create_link(Link(spec=spec()))
    assert created.etag is not None
    updated = await store.update_link(created, created.etag)
    with pytest.raises(PreconditionFailedError):
        await store.delete_link("demo", created.etag)
    await store.delete_link("demo", updated.etag)
    with pytest.raises(NotFoundError):
        await store.get_link("demo")
    await store.delete_link("demo")
    await store.delete_link("not/a link")


async def test_links_are_listed_page_by_page(store: Store) -> None:
    names = [f"link-{index}" for index in range(7)]
    for name in names:
        await store.create_link(Link(spec=spec(name)))

    pages: list[list[str]] = []
    token: str | None = None
    while True:
        links, token = await store.list_links(page_size=3, continuation=token)
        pages.append([link.name for link in links])
        if token is None:
            break
    assert [len(page) for page in pages] == [3, 3, 1]
    assert sorted(name for page in pages for name in page) == names
    assert all(link.etag for link in (await store.list_links())[0])


async def test_an_empty_list_has_no_next_page(store: Store) -> None:
    assert await store.list_links() == ([], None)


@pytest.mark.parametrize("token", ["not base64!", "bm90IGpzb24", "WzEsMl0="])
async def test_a_forged_continuation_token_is_refused(store: Store, token: str) -> None:
    with pytest.raises(InvalidRequestError):
        await store.list_links(continuation=token)


def full_status(text: str) -> LinkStatus:
    status = LinkStatus(
        message=text,
        drift=[f"{index} {text}" for index in range(20)],
        connections=[
            ConnectionState(name=f"pe-{index}.{uuid.UUID(int=index)}", status="Pending", description=text)
            for index in range(100)
        ],
    )
    for index in range(MAX_HISTORY):
        status.record_step(StepRecord(at=T0, step=f"step-{index}", outcome=StepOutcome.FAILED, detail=text))
    return status


async def test_a_link_larger_than_one_string_property_round_trips(store: Store) -> None:
    # 100 long NIC IDs make the desired state alone longer than a 64 KiB string property.
    big_spec = spec(nic_names=[f"{index:03d}-" + "n" * 250 for index in range(100)])
    assert len(big_spec.model_dump_json()) > 32_768
    link = Link(spec=big_spec, status=full_status("x" * 500))
    await store.create_link(link)
    read = await store.get_link("demo")
    assert read.spec == big_spec
    assert read.status == link.status


async def test_the_oldest_history_gives_way_when_a_status_would_not_fit(store: Store) -> None:
    # Non-ASCII text takes six characters per character in the stored JSON.
    status = full_status("é" * 500)
    await store.create_link(Link(spec=spec(), status=status))
    read = await store.get_link("demo")
    assert 0 < len(read.status.history) < MAX_HISTORY
    assert read.status.history == status.history[-len(read.status.history) :]
    assert read.status.connections == status.connections
    assert read.status.drift == status.drift


# Audit


def audit(at: datetime, link: str | None = "demo", decision: str = "approved") -> AuditRecord:
    return AuditRecord(
        at=at,
        link=link,
        actor="approver",
        action="approveConnection",
        subject=f"{NETWORK}/privateLinkServices/pls-demo/privateEndpointConnections/pe.1",
        decision=decision,
        reason="private endpoint in EMQX's subscription",
    )


async def test_audit_records_come_back_in_time_order(store: Store) -> None:
    times = [T0 + timedelta(minutes=m) for m in (5, 0, 3, 3, 1)]
    for index, at in enumerate(times):
        await store.append_audit(audit(at, decision=f"decision-{index}"))
    await store.append_audit(audit(T0, link="other"))
    await store.append_audit(audit(T0, link=None, decision="leftPending"))

    records = await store.list_audit("demo")
    assert [r.at for r in records] == sorted(times)
    assert {r.decision for r in records} == {f"decision-{index}" for index in range(5)}
    assert records[0] == audit(T0, decision="decision-1")
    assert [r.link for r in await store.list_audit("other")] == ["other"]
    assert [r.decision for r in await store.list_audit(None)] == ["leftPending"]


async def test_audit_keeps_utc_order_across_time_zones(store: Store) -> None:
    later_in_tokyo = (T0 + timedelta(minutes=1)).astimezone(timezone(timedelta(hours=9)))
    await store.append_audit(audit(later_in_tokyo, decision="second"))
    await store.append_audit(audit(T0, decision="first"))
    assert [r.decision for r in await store.list_audit("demo")] == ["first", "second"]


# Event de-duplication


async def test_concurrent_deliveries_of_one_event_have_one_winner(store: Store, other_stores: list[Store]) -> None:
    event_id = "4f3a1c1e-55b0-4d7e-a5c2-6f0f4a1b2c3d"
    stores = [store, *other_stores] * 3
    claims = await asyncio.gather(*(s.claim_event(event_id, T0) for s in stores))
    assert claims.count(True) == 1
    assert await store.claim_event(event_id, T0 + timedelta(hours=1)) is False


async def test_distinct_events_are_all_new(store: Store) -> None:
    ids = ["a", "A", "id/with#odd?chars\\", "x" * 2000]
    assert [await store.claim_event(event_id, T0) for event_id in ids] == [True] * 4


async def test_a_released_event_is_handled_again(store: Store) -> None:
    assert await store.claim_event("retried", T0) is True
    await store.release_event("retried")
    assert await store.claim_event("retried", T0) is True
    assert await store.claim_event("retried", T0) is False


async def test_old_de_dup_records_are_forgotten(store: Store) -> None:
    await store.claim_event("old", T0)
    await store.claim_event("recent", T0 + timedelta(hours=30))
    assert await store.forget_events_seen_before(T0 + timedelta(hours=24), limit=100) == 1
    assert await store.claim_event("old", T0 + timedelta(hours=31)) is True
    assert await store.claim_event("recent", T0 + timedelta(hours=31)) is False


async def test_forgetting_is_bounded_per_call(store: Store) -> None:
    for index in range(5):
        await store.claim_event(f"old-{index}", T0)
    assert await store.forget_events_seen_before(T0 + timedelta(hours=24), limit=2) == 2
    assert await store.forget_events_seen_before(T0 + timedelta(hours=24), limit=2) == 2
    assert await store.forget_events_seen_before(T0 + timedelta(hours=24), limit=2) == 1


async def test_old_audit_records_are_forgotten_a_bounded_number_at_a_time(store: Store) -> None:
    for days in (100, 95, 91):
        await store.append_audit(audit(T0 - timedelta(days=days), decision=f"{days} days old"))
    await store.append_audit(audit(T0 - timedelta(days=10), link="other", decision="recent"))
    await store.append_audit(audit(T0 - timedelta(days=200), link=None, decision="about no link"))
    cutoff = T0 - timedelta(days=90)
    assert await store.forget_audit_before(cutoff, limit=2) == 2
    assert await store.forget_audit_before(cutoff, limit=2) == 2
    assert await store.forget_audit_before(cutoff, limit=2) == 0
    assert [r.decision for r in await store.list_audit("demo")] == []
    assert [r.decision for r in await store.list_audit("other")] == ["recent"]


# Rate budgets


async def test_concurrent_spenders_never_exceed_the_limit(store: Store, other_stores: list[Store]) -> None:
    spenders = [store, *other_stores] * 8
    spent = await asyncio.gather(*(s.try_spend("emqx-platform", 7, 3600, T0) for s in spenders))
    assert spent.count(True) == 7
    assert await store.try_spend("emqx-platform", 7, 3600, T0 + timedelta(minutes=59)) is False


async def test_each_window_and_key_has_its_own_budget(store: Store) -> None:
    assert [await store.try_spend("k", 2, 60, T0) for _ in range(3)] == [True, True, False]
    assert await store.try_spend("k", 2, 60, T0 + timedelta(seconds=60)) is True
    assert await store.try_spend("other:key", 2, 60, T0) is True
    assert await store.try_spend("k", 0, 60, T0 + timedelta(hours=1)) is False


async def test_the_window_slides_across_boundaries(store: Store) -> None:
    # A fixed window would let four through between T0+50 s and T0+70 s; the upstream limit would not.
    late = T0 + timedelta(seconds=50)
    assert [await store.try_spend("slide", 2, 60, late) for _ in range(2)] == [True, True]
    assert await store.try_spend("slide", 2, 60, late + timedelta(seconds=20)) is False
    assert await store.try_spend("slide", 2, 60, late + timedelta(seconds=61)) is True


async def test_a_budget_key_must_be_a_table_key(store: Store) -> None:
    with pytest.raises(ValueError, match="cannot be a table key"):
        await store.try_spend("a/b", 1, 60, T0)


# Storage failures


async def test_unreachable_storage_is_temporary(azurite: Azurite) -> None:
    closed = azurite.connection_string.replace(str(azurite.port), str(free_port()))
    async with Store.from_settings(settings_for(closed, "unreachable"), retry_total=0) as store:
        with pytest.raises(TemporaryError) as caught:
            await store.get_link("demo")
    assert caught.value.__cause__ is not None


async def test_a_refused_request_is_an_upstream_error(azurite: Azurite) -> None:
    wrong_key = azurite.connection_string.replace(
        f"AccountName={DEV_ACCOUNT};AccountKey=", f"AccountName={DEV_ACCOUNT};AccountKey=AAAA"
    )
    async with Store.from_settings(settings_for(wrong_key, "wrongkey"), retry_total=0) as store:
        with pytest.raises(UpstreamError) as caught:
            await store.get_link("demo")
    assert "403 AuthorizationFailure" in caught.value.message
    assert "AAAA" not in caught.value.message


# Leases


async def test_one_lease_holder_at_a_time(store: Store, other_stores: list[Store]) -> None:
    holders = [store, *other_stores] * 3
    won = await asyncio.gather(*(s.try_lease("leased", f"run-{i}", 60, T0) for i, s in enumerate(holders)))
    assert won.count(True) == 1
    winner = f"run-{won.index(True)}"
    assert await store.try_lease("leased", winner, 60, T0 + timedelta(seconds=10)) is True
    assert await store.try_lease("leased", "late", 60, T0 + timedelta(seconds=30)) is False
    assert await store.try_lease("leased", "late", 60, T0 + timedelta(seconds=71)) is True


async def test_a_released_lease_is_free_and_only_its_holder_releases_it(store: Store) -> None:
    assert await store.try_lease("released", "a", 60, T0) is True
    await store.release_lease("released", "b")
    assert await store.try_lease("released", "b", 60, T0) is False
    await store.release_lease("released", "a")
    assert await store.try_lease("released", "b", 60, T0) is True


async def test_a_held_budget_spends_nothing_until_the_hold_ends(store: Store) -> None:
    assert await store.try_spend("held", 5, 3600, T0) is True
    await store.hold_budget("held", T0 + timedelta(seconds=30))
    assert await store.try_spend("held", 5, 3600, T0 + timedelta(seconds=29)) is False
    assert await store.try_spend("held", 5, 3600, T0 + timedelta(seconds=31)) is True
    await store.hold_budget("fresh-hold", T0 + timedelta(seconds=30))
    assert await store.try_spend("fresh-hold", 5, 3600, T0) is False
    assert await store.try_spend("fresh-hold", 5, 3600, T0 + timedelta(seconds=31)) is True
