"""What the monitor forgets, a bounded number of rows per run: Event Grid de-duplication rows once Event Grid can no
longer redeliver their event (it retries for 24 hours; an hour of margin for clock skew and late deliveries), and
audit records older than `AUDIT_RETENTION_DAYS`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from shared.errors import TemporaryError
from shared.run import Services
from shared.telemetry import APP_LOGGER

log = logging.getLogger(APP_LOGGER)

EVENT_REDELIVERY_WINDOW = timedelta(hours=25)
# Rows each table may lose in one monitor run: a backlog drains over a few runs instead of slowing one down.
ROWS_PER_RUN = 500


@dataclass(frozen=True)
class Pruned:
    events: int = 0
    audits: int = 0


async def prune(services: Services) -> Pruned:
    """Forget old rows; storage failing for now only postpones it to the next run."""
    now, store = services.clock.now(), services.store
    audit_cutoff = now - timedelta(days=services.settings.audit_retention_days)
    try:
        events = await store.forget_events_seen_before(now - EVENT_REDELIVERY_WINDOW, ROWS_PER_RUN)
        audits = await store.forget_audit_before(audit_cutoff, ROWS_PER_RUN)
    except TemporaryError as error:
        log.warning("retention: postponed: %s", error.message)
        return Pruned()
    if events or audits:
        log.info("retention: forgot %d event de-dup rows and %d audit records", events, audits)
    return Pruned(events, audits)
