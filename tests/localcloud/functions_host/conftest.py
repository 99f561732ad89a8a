from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from localcloud.functions_host import Clock, HostKeys, create_app
from localcloud.serving import BackgroundServer
from tests.localcloud.functions_host.sample_app import RECORDER
from tests.localcloud.functions_host.support import SAMPLE_APP, YEARLY, StartHost


@pytest.fixture(autouse=True)
def _fresh_recorder() -> Iterator[None]:
    RECORDER.reset()
    yield
    RECORDER.reset()


@pytest.fixture(scope="session")
def keys() -> HostKeys:
    return HostKeys.generate()


@pytest.fixture
def start_host(keys: HostKeys) -> StartHost:
    @contextmanager
    def start(settings: dict[str, str] | None = None, clock: Clock | None = None) -> Iterator[BackgroundServer]:
        app = create_app(SAMPLE_APP, app_settings={"TICK_SCHEDULE": YEARLY, **(settings or {})}, keys=keys, clock=clock)
        with BackgroundServer(app) as server:
            yield server

    return start


@pytest.fixture(scope="module")
def host(keys: HostKeys) -> Iterator[BackgroundServer]:
    """One host for a whole test module, for tests that only send requests."""
    app = create_app(SAMPLE_APP, app_settings={"TICK_SCHEDULE": YEARLY}, keys=keys)
    with BackgroundServer(app) as server:
        yield server


@pytest.fixture(scope="module")
def client(host: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=host.base_url, timeout=10) as http:
        yield http
