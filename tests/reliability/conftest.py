"""The reliability suite's shared stack (see `tests.reliability.stacks`) and the secret watch over every stack it
starts. A crash in the middle of a run, waited out on a clock that jumps, is in `tests/inprocess`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcloud.stack import Stack
from tests.reliability.secret_watch import SECRET_KINDS, SecretWatch
from tests.reliability.stacks import stack_options, watched_world
from tests.reliability.world import ReliableWorld


@pytest.fixture(scope="session")
def secret_watch() -> Iterator[SecretWatch]:
    watch = SecretWatch()
    yield watch
    assert watch.answers and watch.records and watch.log_lines, "the watch saw nothing: it checks nothing"
    assert set(watch.secrets.values()) == set(SECRET_KINDS), watch.secrets.values()
    leaks = watch.leaks()
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks)


@pytest.fixture(scope="session")
def reliable_world(tmp_path_factory: pytest.TempPathFactory, secret_watch: SecretWatch) -> Iterator[ReliableWorld]:
    with (
        Stack(stack_options(tmp_path_factory.mktemp("reliability"))) as stack,
        watched_world(stack, secret_watch) as world,
    ):
        yield world


@pytest.fixture
def world(reliable_world: ReliableWorld) -> Iterator[ReliableWorld]:
    """The shared world, with no fault armed and a fresh hour of rate limits."""
    reliable_world.clear_faults()
    reliable_world.clear_emqx_faults()
    reliable_world.hour_passes()
    yield reliable_world
    reliable_world.clear_faults()
    reliable_world.clear_emqx_faults()
