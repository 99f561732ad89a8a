"""The EMQX stand-in served over HTTPS, alone (ARM unreachable): for everything that does not need Azure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcloud.emqx import create_app
from localcloud.serving import BackgroundServer
from localcloud.tls import LocalCA
from tests.localcloud.emqx.support import (
    EMQX_CLIENT_ID,
    EMQX_SUBSCRIPTION,
    UNREACHABLE_ARM,
    UNREACHABLE_IDENTITY,
    StandIn,
    build_account,
)


@pytest.fixture(scope="module")
def local_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return LocalCA.create(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def emqx(local_ca: LocalCA) -> Iterator[StandIn]:
    account = build_account()
    app = create_app(
        arm_endpoint=UNREACHABLE_ARM,
        identity_endpoint=UNREACHABLE_IDENTITY,
        identity_header="unused",
        emqx_subscription_id=EMQX_SUBSCRIPTION,
        emqx_client_id=EMQX_CLIENT_ID,
        ca_bundle=local_ca.ca_bundle,
        platform_keys=[account.key, account.projects_only_key, account.other_project_key],
        deployments=[account.v5, account.v4],
        projects=[account.project, account.other_project],
        speed=1000,
    )
    with BackgroundServer(app, local_ca.server) as server:
        yield StandIn(base_url=server.base_url, account=account, cloud=app.state.emqx, ca_bundle=local_ca.ca_bundle)
