"""Event Grid → approve: an event is only a hint; the life cycle re-reads the PLS from ARM and decides.

The function name is part of the Event Grid subscription's URL: keep it stable.
"""

from __future__ import annotations

import logging

import azure.functions as func

from shared.telemetry import APP_LOGGER

bp = func.Blueprint()
log = logging.getLogger(APP_LOGGER)


@bp.function_name("approve")
@bp.event_grid_trigger(arg_name="event")
async def approve(event: func.EventGridEvent) -> None:
    from shared.lifecycle import handle_event
    from shared.services import services_for_this_process

    data = event.get_json()
    outcome = await handle_event(
        services_for_this_process(),
        event.id,
        event.event_type,
        event.subject,
        data if isinstance(data, dict) else {},
    )
    log.info("event %s (%s): %s", event.id, event.event_type, outcome, extra={"step": "approve"})
