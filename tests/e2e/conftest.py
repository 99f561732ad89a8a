"""One localcloud stack per registration mode for each test module, at fifty times real speed.

Per module, so a module's links, budgets and call counters never weigh on another's.
"""

from collections.abc import Iterator

import pytest

from localcloud.stack import LINK_SECRET_SETTINGS, Stack, StackOptions
from tests.e2e.world import NEVER, World

SPEED = 50.0


def stack_world(tmp_path_factory: pytest.TempPathFactory, mode: str, **settings: str) -> Iterator[World]:
    """A world on its own stack; `settings` adds or overrides app settings."""
    options = StackOptions(
        workdir=tmp_path_factory.mktemp(f"localcloud-{mode}"),
        speed=SPEED,
        registration_mode=mode,
        extra_settings={
            "MONITOR_SCHEDULE": NEVER,
            "PROVISION_BUDGET_SECONDS": "60",
            # A password Redis refuses: a link names this setting to fail its Redis test.
            "WRONG_REDIS_PASSWORD": "not-the-redis-password",
            "LINK_SECRET_SETTINGS": ",".join((*LINK_SECRET_SETTINGS, "WRONG_REDIS_PASSWORD")),
            **settings,
        },
    )
    with Stack(options) as stack:
        world = World(stack)
        try:
            yield world
        finally:
            world.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from stack_world(tmp_path_factory, "api")


@pytest.fixture(scope="module")
def console_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from stack_world(tmp_path_factory, "console")
