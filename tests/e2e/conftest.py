"""One localcloud stack per registration mode for each test module, at fifty times real speed.

Per module, so a module's links, budgets and call counters never weigh on another's.
"""

from collections.abc import Iterator

import pytest

from tests.e2e.world import World, stack_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from stack_world(tmp_path_factory, "api")


@pytest.fixture(scope="module")
def console_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from stack_world(tmp_path_factory, "console")
