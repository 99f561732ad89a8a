"""Constants and helpers shared by the Functions host tests."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from localcloud.serving import BackgroundServer

SAMPLE_APP = "tests.localcloud.functions_host.sample_app:app"
SAMPLE_APP_FILE = Path(__file__).resolve().parent / "sample_app.py"
# a schedule that does not come round during a test, for tests that are not about timers
YEARLY = "0 0 0 1 1 *"
# the `start_host` fixture: start_host(settings=None, clock=None) -> context manager of a running host
StartHost = Callable[..., AbstractContextManager[BackgroundServer]]
EVENTGRID_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "eventgrid"
# How long a run the host was asked for (or its timer) may take to show in the recorder, and how often to look.
WAIT_SECONDS, POLL_SECONDS = 5.0, 0.01
