from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.mgmt.network import NetworkManagementClient

from localcloud.arm.clock import ManualClock
from localcloud.tls import LocalCA
from tests.localcloud.arm.support import (
    EMQX_CLIENT,
    EMQX_SUB,
    FAST,
    PROVIDER_SUB,
    Cloud,
    TcpListener,
    fresh,
    network_client,
    running_cloud,
)


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return LocalCA.create(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def _fast_servers(ca: LocalCA) -> Iterator[Cloud]:
    with running_cloud(ca, speed=FAST) as running:
        yield running


@pytest.fixture(scope="session")
def _held_servers(ca: LocalCA) -> Iterator[Cloud]:
    with running_cloud(ca, speed=1.0, clock=ManualClock()) as running:
        yield running


@pytest.fixture
def cloud(_fast_servers: Cloud, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    """ARM + identity, LROs sped up 1000 times; resource groups of both subscriptions exist."""
    return fresh(_fast_servers, monkeypatch)


@pytest.fixture
def held_cloud(_held_servers: Cloud, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    """ARM + identity at realistic speed on a clock that only the test moves (exact recorded headers)."""
    return fresh(_held_servers, monkeypatch)


@pytest.fixture
def network(cloud: Cloud) -> Iterator[NetworkManagementClient]:
    """The Function App's client in the provider subscription."""
    with network_client(cloud, PROVIDER_SUB) as client:
        yield client


@pytest.fixture
def emqx_network(cloud: Cloud) -> Iterator[NetworkManagementClient]:
    """EMQX's client in its own subscription, with its own identity."""
    with network_client(cloud, EMQX_SUB, EMQX_CLIENT) as client:
        yield client


@pytest.fixture
def held_network(held_cloud: Cloud) -> Iterator[NetworkManagementClient]:
    with network_client(held_cloud, PROVIDER_SUB) as client:
        yield client


@pytest.fixture
def listener() -> Iterator[TcpListener]:
    server = TcpListener()
    yield server
    server.close()
