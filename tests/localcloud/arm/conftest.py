from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from azure.identity import ManagedIdentityCredential
from azure.mgmt.network import NetworkManagementClient

from localcloud.arm.clock import ManualClock
from localcloud.tls import LocalCA
from tests.localcloud.arm.support import (
    ARM_SCOPE,
    EMQX_CLIENT,
    EMQX_SUB,
    IDENTITY_HEADER,
    PROVIDER_SUB,
    Cloud,
    TcpListener,
    create_groups,
    running_cloud,
)

FAST = 1000.0


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


def _fresh(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    """Empty the stand-in, point azure-identity at it, and create both resource groups."""
    with cloud.control() as control:
        control.post("/localcloud/reset").raise_for_status()
    # azure-identity finds the App Service managed identity endpoint through these two variables only.
    monkeypatch.setenv("IDENTITY_ENDPOINT", cloud.identity)
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
    create_groups(cloud)
    return cloud


@pytest.fixture
def cloud(_fast_servers: Cloud, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    """ARM + identity, LROs sped up 1000 times; resource groups of both subscriptions exist."""
    return _fresh(_fast_servers, monkeypatch)


@pytest.fixture
def held_cloud(_held_servers: Cloud, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    """ARM + identity at realistic speed on a clock that only the test moves (exact recorded headers)."""
    return _fresh(_held_servers, monkeypatch)


@contextlib.contextmanager
def _client(cloud: Cloud, subscription: str, client_id: str | None = None) -> Iterator[NetworkManagementClient]:
    credential = ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
    with (
        credential,
        NetworkManagementClient(
            credential,
            subscription,
            base_url=cloud.arm,
            credential_scopes=[ARM_SCOPE],
            connection_verify=cloud.ca_bundle,
        ) as client,
    ):
        yield client


@pytest.fixture
def network(cloud: Cloud) -> Iterator[NetworkManagementClient]:
    """The Function App's client in the provider subscription."""
    with _client(cloud, PROVIDER_SUB) as client:
        yield client


@pytest.fixture
def emqx_network(cloud: Cloud) -> Iterator[NetworkManagementClient]:
    """EMQX's client in its own subscription, with its own identity."""
    with _client(cloud, EMQX_SUB, EMQX_CLIENT) as client:
        yield client


@pytest.fixture
def held_network(held_cloud: Cloud) -> Iterator[NetworkManagementClient]:
    with _client(held_cloud, PROVIDER_SUB) as client:
        yield client


@pytest.fixture
def listener() -> Iterator[TcpListener]:
    server = TcpListener()
    yield server
    server.close()
