"""Build the life cycle's services once per process (and event loop) from the app settings.

Azure access uses `DefaultAzureCredential`: the managed identity in Azure (`AZURE_CLIENT_ID` names a
user-assigned one), the App Service identity endpoint locally; no Azure keys anywhere.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from azure.identity.aio import DefaultAzureCredential

from shared.azure_network import AzureNetwork
from shared.emqx import Emqx
from shared.run import Clock, Services, SystemClock
from shared.settings import Settings
from shared.store import Store

# The EMQX Platform API allows 60 calls per 60 minutes per key (reference emqx-api.md §2).
PLATFORM_API_CALLS_PER_HOUR = 60

_by_loop: dict[asyncio.AbstractEventLoop, Services] = {}


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    credential = DefaultAzureCredential(
        managed_identity_client_id=settings.managed_identity_client_id,
        exclude_interactive_browser_credential=True,
    )
    store = Store.from_settings(settings, credential)
    chosen_clock = clock

    async def spend(key: str) -> bool:
        now: datetime = chosen_clock.now()
        return await store.try_spend(key, PLATFORM_API_CALLS_PER_HOUR, 3600, now)

    return Services(
        settings=settings,
        network=AzureNetwork(settings, credential),
        emqx=Emqx(settings, spend),
        store=store,
        clock=clock,
        credential=credential,
    )


def services_for_this_process() -> Services:
    """The process's services for the running event loop (clients are bound to the loop that made them)."""
    loop = asyncio.get_running_loop()
    services = _by_loop.get(loop)
    if services is None:
        services = build_services(Settings.from_mapping())
        _by_loop[loop] = services
    return services
