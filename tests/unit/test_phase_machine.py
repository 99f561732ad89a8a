"""The phase machine: one way to change a phase, recorded, with failed health; dry runs change nothing."""

import logging

import pytest

from shared.model import PHASE_MOVES, Health, Phase, StepOutcome
from tests.unit.runs import Clock, deleting_run


def test_every_phase_has_its_moves_and_deleted_is_the_end() -> None:
    assert set(PHASE_MOVES) == set(Phase)
    assert PHASE_MOVES[Phase.DELETED] == frozenset()
    assert all(Phase.DELETING in moves for phase, moves in PHASE_MOVES.items() if not phase.being_deleted)


def test_a_move_is_recorded_and_failed_sets_failed_health() -> None:
    run = deleting_run(Clock())
    run.link.status.phase = Phase.RUNNING
    run.move_to(Phase.FAILED, "EMQX reports the PrivateLink failed")
    status = run.link.status
    assert (status.phase, status.health) == (Phase.FAILED, Health.FAILED)
    step = status.history[-1]
    assert (step.step, step.outcome, step.detail) == (
        "phase running -> failed",
        StepOutcome.FAILED,
        "EMQX reports the PrivateLink failed",
    )
    run.move_to(Phase.FAILED, "again")
    assert len(status.history) == 1


def test_a_dry_run_moves_nothing() -> None:
    run = deleting_run(Clock())
    run.dry_run = True
    run.move_to(Phase.DELETED, "everything is removed")
    assert run.link.status.phase is Phase.DELETING
    assert run.link.status.history == []


def test_a_move_the_machine_does_not_list_is_made_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    run = deleting_run(Clock())
    with caplog.at_level(logging.WARNING, logger="emqx_privatelink"):
        run.move_to(Phase.RUNNING, "a bug")
    assert run.link.status.phase is Phase.RUNNING
    assert "unexpected phase change deleting -> running" in caplog.text
