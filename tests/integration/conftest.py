"""Fixtures of the integration tests: one Azurite (Table service) for the whole session, and per test a table
prefix of its own (`settings`) and the app's store over it."""

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from localcloud.azurite import Azurite
from shared.settings import Settings
from shared.store import Store
from tests.integration.support import settings_for


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    server = Azurite(tmp_path_factory.mktemp("azurite"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(azurite: Azurite) -> Settings:
    # A table prefix per test keeps tests apart on the one Azurite of the session.
    return settings_for(azurite.connection_string, f"t{uuid.uuid4().hex[:12]}")


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    async with Store.from_settings(settings) as opened:
        yield opened
