"""A run of the life cycle on a manual clock, with no adapter behind it: for tests of what a run records."""

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from shared.model import Link, Phase, parse_link_spec
from shared.run import Run, Services
from shared.settings import Settings
from tests.bodies import guide_body

START = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = START

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return (self.at - START).total_seconds()

    async def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def a_run(clock: Clock, phase: Phase, *, dry_run: bool = False, **settings: str) -> Run:
    """A run of the guide's link in `phase`, with the app settings given (and a storage connection string)."""
    values = {"STATE_STORAGE_CONNECTION_STRING": "AccountName=dev;AccountKey=a2V5;", **settings}
    services = Services(
        settings=Settings.from_mapping(values), network=cast(Any, None), emqx=cast(Any, None), store=cast(Any, None)
    )
    services.clock = clock
    link = Link(spec=parse_link_spec("demo", guide_body()))
    link.status.phase = phase
    return Run(services, link, clock.monotonic() + 60, "monitor", dry_run=dry_run)


def deleting_run(clock: Clock) -> Run:
    return a_run(clock, Phase.DELETING)
