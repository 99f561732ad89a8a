"""A removal waiting for EMQX says why on every run, and gives up once, audited, after its patience."""

from datetime import timedelta

import pytest

from shared.errors import WaitingForEmqxError
from shared.removal import TEARDOWN_PATIENCE, wait_for_emqx
from tests.unit.runs import START, Clock, deleting_run


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
