"""Fixtures of the integration tests: one Azurite (Table service) for the whole session."""

from collections.abc import Iterator

import pytest

from localcloud.azurite import Azurite


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    server = Azurite(tmp_path_factory.mktemp("azurite"))
    try:
        yield server
    finally:
        server.stop()
