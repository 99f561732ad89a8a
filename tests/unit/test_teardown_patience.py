"""A removal waiting for EMQX says why on every run, and gives up once, audited, after its patience."""

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from shared.errors import WaitingForEmqxError
from shared.model import Link, Phase, parse_link_spec
from shared.removal import TEARDOWN_PATIENCE, wait_for_emqx
from shared.run import Run, Services
from shared.settings import Settings
from tests.unit.test_model import guide_body

START = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = START

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return (self.at - START).total_seconds()


def deleting_run(clock: Clock) -> Run:
    settings = Settings.from_mapping({"STATE_STORAGE_CONNECTION_STRING": "AccountName=dev;AccountKey=a2V5;"})
    services = Services(settings=settings, network=cast(Any, None), emqx=cast(Any, None), store=cast(Any, None))
    services.clock = clock
    link = Link(spec=parse_link_spec("demo", guide_body()))
    link.status.phase = Phase.DELETING
    return Run(services, link, clock.monotonic() + 60, "monitor")


def test_each_wait_says_why_and_the_patience_runs_from_the_first() -> None:
    clock = Clock()
    run = deleting_run(clock)
    for _ in range(3):
        with pytest.raises(WaitingForEmqxError, match="pl-1 is pending"):
            wait_for_emqx(run, "pl-1 is pending")
        clock.at += timedelta(hours=1)
    status = run.link.status
    assert status.emqx_teardown_since == START
    assert status.message == "Waiting for EMQX: pl-1 is pending."
    assert not status.emqx_teardown_stalled
    assert run.audits == []


def test_past_its_patience_the_teardown_gives_up_once_audited() -> None:
    clock = Clock()
    run = deleting_run(clock)
    with pytest.raises(WaitingForEmqxError):
        wait_for_emqx(run, "pl-1 is pending")
    clock.at += TEARDOWN_PATIENCE
    with pytest.raises(WaitingForEmqxError, match=r"\?emqxRemoved=true"):
        wait_for_emqx(run, "pl-1 is pending")
    status = run.link.status
    assert status.emqx_teardown_stalled
    assert [(a.action, a.decision) for a in run.audits] == [("remove link", "stalled")]
    assert status.history[-1].outcome.value == "failed"
