"""Build the life cycle's services once per process (and event loop) from the app settings.

Azure access uses `DefaultAzureCredential`: the managed identity in Azure (`AZURE_CLIENT_ID` names a
user-assigned one), the App Service identity endpoint locally; no Azure keys anywhere.

`services_for_this_process()` is everything the life cycle needs; `store_for_this_process()` is Table Storage
alone, and shares its store (and credential) with the full services: the read-only routes use it only when
their SDK-free reader (`shared.table_reads`) cannot authenticate (it can with a connection string or the managed
identity endpoint). The ARM SDK, the EMQX client and azure-identity are imported only when something needs them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.clock import Clock, SystemClock
from shared.run import Services
from shared.settings import Settings
from shared.store import Store

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

    from shared.eventgrid import EventPublisher

# The EMQX Platform API allows 60 calls per 60 minutes per key (reference emqx-api.md §2).
PLATFORM_API_CALLS_PER_HOUR = 60


def _credential(settings: Settings) -> AsyncTokenCredential:
    from azure.identity.aio import DefaultAzureCredential  # noqa: PLC0415 - loaded on first need (module docstring)

    return DefaultAzureCredential(
        managed_identity_client_id=settings.managed_identity_client_id,
        exclude_interactive_browser_credential=True,
    )


def build_services(
    settings: Settings,
    clock: Clock | None = None,
    *,
    credential: AsyncTokenCredential | None = None,
    store: Store | None = None,
) -> Services:
    from shared.arm_budget import ArmBudget  # noqa: PLC0415 - loaded on first need (module docstring)
    from shared.azure_network import AzureNetwork  # noqa: PLC0415
    from shared.emqx import Emqx  # noqa: PLC0415

    clock = clock or SystemClock()
    credential = credential or _credential(settings)
    store = store or Store.from_settings(settings, credential)
    chosen_clock, chosen_store = clock, store

    async def spend(key: str) -> bool:
        now: datetime = chosen_clock.now()
        return await chosen_store.try_spend(key, PLATFORM_API_CALLS_PER_HOUR, 3600, now)

    async def hold(key: str, seconds: float) -> None:
        await chosen_store.hold_budget(key, chosen_clock.now() + timedelta(seconds=seconds))

    async def held_until(key: str) -> datetime | None:
        return await chosen_store.budget_held_until(key, chosen_clock.now())

    arm_budget = ArmBudget(clock, floor_share=settings.arm_read_floor_percent / 100, hold=hold, held_until=held_until)
    return Services(
        settings=settings,
        network=AzureNetwork(settings, credential, clock, arm_budget),
        emqx=Emqx(settings, spend, hold),
        store=store,
        clock=clock,
        credential=credential,
        events=_event_publisher(settings, credential),
    )


def _event_publisher(settings: Settings, credential: AsyncTokenCredential) -> EventPublisher | None:
    if settings.eventgrid_topic_endpoint is None:
        return None
    from shared.eventgrid import EventPublisher  # noqa: PLC0415 - loaded on first need (module docstring)

    return EventPublisher(settings, credential)


@dataclass
class _ProcessServices:
    """One event loop's clients: the store from the first request on, the rest once a route needs them."""

    settings: Settings
    store: Store
    credential: AsyncTokenCredential | None
    services: Services | None = None


_by_loop: dict[asyncio.AbstractEventLoop, _ProcessServices] = {}


def _for_this_loop() -> _ProcessServices:
    """Clients are bound to the event loop that made them, hence one set per loop."""
    loop = asyncio.get_running_loop()
    current = _by_loop.get(loop)
    if current is None:
        settings = Settings.from_mapping()
        # With a connection string (local), Table Storage needs no credential.
        credential = None if settings.state_storage_connection_string is not None else _credential(settings)
        current = _ProcessServices(settings, Store.from_settings(settings, credential), credential)
        _by_loop[loop] = current
    return current


def store_for_this_process() -> Store:
    return _for_this_loop().store


def services_for_this_process() -> Services:
    current = _for_this_loop()
    if current.services is None:
        if current.credential is None:
            current.credential = _credential(current.settings)
        current.services = build_services(current.settings, credential=current.credential, store=current.store)
    return current.services
