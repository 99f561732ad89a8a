"""The monitor's shared EMQX Platform API budget (60 calls an hour per key) with 200 links, against localcloud.

Two links are provisioned for real; 198 more are written straight into the app's store, each a copy of one of
them under its own name that names the same Azure resources (so each is a running link whose PLS ARM has).
Provisioning 200 links over HTTP would take minutes; a monitor run treats a copy as it treats any running link.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from shared.model import Link, parse_link_spec
from shared.store import Store
from tests.e2e.helpers import (
    Monitor,
    MonitorRun,
    clear_emqx_faults,
    inject_emqx_fault,
    platform_budget_spent,
    platform_calls,
    reset_emqx_calls,
    running_link,
    set_platform_budget_spent,
)
from tests.e2e.world import World

LINKS = 200
SMALL = 10
OVERLAPPING = 30
HOURLY_BUDGET = 60
SOURCES = ("budget-a", "budget-b")
PRIVATE_LINKS = "/privatelinks$"


@pytest.fixture(scope="module")
def monitor(world: World) -> Monitor:
    return Monitor(world)


@pytest.fixture(autouse=True)
def fresh_rate_budgets(world: World) -> None:
    """EMQX's and the app's hourly budgets unspent, whatever the session's earlier tests spent."""
    world.hour_passes()


def _copy(source: Link, name: str) -> Link:
    """`source` under another name, naming the same Azure resources (the derived names made explicit)."""
    body = source.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    body.pop("name")
    names = source.spec.resource_names.model_dump(by_alias=True)
    names.pop("probe")  # a NAT-rule link has no probe
    body["azure"]["names"] = names
    return Link(
        spec=parse_link_spec(name, body), status=source.status.model_copy(deep=True), generation=source.generation
    )


async def _write_copies(store: Store, names: list[str]) -> None:
    sources = [await store.get_link(name) for name in SOURCES]
    limit = asyncio.Semaphore(16)

    async def write(index: int, name: str) -> None:
        async with limit:
            await store.create_link(_copy(sources[index % len(sources)], name))

    await asyncio.gather(*(write(i, name) for i, name in enumerate(names)))


async def _delete_copies(store: Store, names: list[str]) -> None:
    for name in names:
        await store.delete_link(name)


@contextmanager
def links(world: World, count: int) -> Iterator[list[str]]:
    """`count` running links: the two real ones and copies, the copies removed after."""
    copies = [f"bulk-{i:03d}" for i in range(count - len(SOURCES))]
    try:
        world.with_store(lambda store: _write_copies(store, copies))
        yield [*SOURCES, *copies]
    finally:
        # Straight from the store: a DELETE would tear down the Azure resources the copies share with their source.
        world.with_store(lambda store: _delete_copies(store, copies))


@pytest.fixture(scope="module", autouse=True)
def sources(world: World) -> Iterator[None]:
    for name in SOURCES:
        running_link(world, name)
    yield
    world.hour_passes()  # the teardown reads EMQX's PrivateLinks
    for name in SOURCES:
        world.delete_until_gone(name)


async def _checked_since(store: Store, moment: float) -> set[str]:
    """The links whose status a run saved at or after `moment`."""
    checked: set[str] = set()
    token: str | None = None
    while True:
        page, token = await store.list_links(1000, token)
        checked.update(
            link.name for link in page if link.status.updated_at and link.status.updated_at.timestamp() >= moment
        )
        if token is None:
            return checked


def _totals(run: MonitorRun) -> tuple[int, int, int]:
    checked, skipped, errored = zip(*run.summaries, strict=True)
    return sum(checked), sum(skipped), sum(errored)


def test_every_link_is_checked_in_one_run_with_one_platform_call(world: World, monitor: Monitor) -> None:
    with links(world, LINKS) as names:
        monitor.settle()
        reset_emqx_calls(world)
        started = time.time()
        run = monitor.run(settle=False)

        assert run.outcomes == ["Succeeded"]
        checked, skipped, errored = _totals(run)
        assert checked >= LINKS and (skipped, errored) == (0, 0), run.summaries
        calls = platform_calls(world)
        assert [(c["method"], c["status"]) for c in calls] == [("GET", 200)], calls
        assert platform_budget_spent(world) == 1
        assert set(names) <= world.with_store(lambda store: _checked_since(store, started))
        assert {world.get_link(name)["status"]["phase"] for name in names[:: LINKS // 10]} == {"running"}


def test_a_spent_budget_skips_the_links_without_calling_emqx(world: World, monitor: Monitor) -> None:
    set_platform_budget_spent(world, HOURLY_BUDGET)
    with links(world, SMALL) as names:
        monitor.settle()
        reset_emqx_calls(world)
        run = monitor.run(settle=False)

        assert run.outcomes == ["Succeeded"], "a link skipped for the budget is not an error"
        _checked, skipped, errored = _totals(run)
        assert skipped >= SMALL and errored == 0, run.summaries
        assert platform_calls(world) == []
        assert world.get_link(names[-1])["status"]["phase"] == "running"


def test_two_overlapping_runs_together_stay_within_the_budget(world: World, monitor: Monitor) -> None:
    set_platform_budget_spent(world, HOURLY_BUDGET - 1)
    with links(world, OVERLAPPING):
        monitor.settle()
        reset_emqx_calls(world)
        run = monitor.run(times=2, settle=False)

        assert run.outcomes == ["Succeeded", "Succeeded"]
        calls = platform_calls(world)
        assert [(c["method"], c["status"]) for c in calls] == [("GET", 200)], calls
        assert platform_budget_spent(world) == HOURLY_BUDGET
        assert all(checked > 0 for checked, _skipped, _errored in run.summaries), "the runs did not overlap"
        checked, _skipped, errored = _totals(run)
        assert checked >= OVERLAPPING and errored == 0, run.summaries


def test_a_throttled_platform_api_skips_the_links_and_the_run_goes_on(world: World, monitor: Monitor) -> None:
    with links(world, SMALL) as names:
        monitor.settle()
        reset_emqx_calls(world)
        inject_emqx_fault(world, method="GET", path=PRIVATE_LINKS, kind="throttle", retryAfter=1, count=1)
        try:
            run = monitor.run(settle=False)
        finally:
            clear_emqx_faults(world)

        assert run.outcomes == ["Succeeded"]
        _checked, skipped, errored = _totals(run)
        assert skipped >= SMALL and errored == 0, run.summaries
        calls = platform_calls(world)
        assert [(c["status"], c["fault"]) for c in calls] == [(429, "throttle")], calls
        assert world.get_link(names[-1])["status"]["phase"] == "running"

        assert monitor.run().outcomes == ["Succeeded"]
        assert [c["status"] for c in platform_calls(world)] == [429, 200]
