"""One localcloud stack (no Functions host) per module of the in-process tier, at fifty times real speed."""

from collections.abc import Iterator

import pytest

from localcloud.stack import Stack, StackOptions
from tests.inprocess.cloud import InProcessCloud

SPEED = 50.0
NEVER = "0 0 0 1 1 *"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    options = StackOptions(
        workdir=tmp_path_factory.mktemp("localcloud-inprocess"),
        speed=SPEED,
        registration_mode="api",
        start_host=False,
        extra_settings={"MONITOR_SCHEDULE": NEVER, "PROVISION_BUDGET_SECONDS": "60"},
    )
    with Stack(options) as stack, pytest.MonkeyPatch.context() as env:
        # The app's managed identity, as the Functions host hands it to the app (App Service protocol).
        env.setenv("IDENTITY_ENDPOINT", stack.app_settings["IDENTITY_ENDPOINT"])
        env.setenv("IDENTITY_HEADER", stack.app_settings["IDENTITY_HEADER"])
        yield InProcessCloud(stack, SPEED)
