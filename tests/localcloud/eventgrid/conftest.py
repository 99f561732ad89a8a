from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcloud.tls import LocalCA
from tests.localcloud.eventgrid.support import IDENTITY_HEADER, Cloud, running_cloud


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return LocalCA.create(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def _servers(ca: LocalCA) -> Iterator[Cloud]:
    with running_cloud(ca) as running:
        yield running


@pytest.fixture
def cloud(_servers: Cloud, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    """The custom topic and the identity endpoint, reset; azure-identity pointed at the endpoint as the Functions
    host points it (App Service protocol: IDENTITY_ENDPOINT and IDENTITY_HEADER)."""
    with _servers.control() as control:
        control.post("/reset").raise_for_status()
    monkeypatch.setenv("IDENTITY_ENDPOINT", _servers.identity)
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
    return _servers
