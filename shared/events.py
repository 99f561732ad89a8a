"""The life-cycle events the app tells other systems about: CloudEvents 1.0 on an Event Grid custom topic.

Every type is under `Com.Emqx.PrivateLink.`; `source` is the app (`SOURCE`), `subject` is `links/{name}`, and
`data` holds the link's name, phase and resource IDs and why the event happened, never a secret
(`functions/events.schema.json` documents each type):

    LinkProvisioned     the load balancer and the Private Link Service are in place
    AliasReady          console mode: the alias the operator pastes into EMQX's console (`data.alias`)
    ConnectionApproved  a private endpoint connection was approved, by policy (`data.connection`)
    ConnectionRejected  a private endpoint connection was rejected, by policy (`data.connection`)
    LinkRunning         EMQX reports the PrivateLink running (api mode), or the IP was reported (console mode)
    RedisTestFailed     the Redis test through the PrivateLink failed, after passing or never having run
    RedisTestRecovered  the Redis test passed again after failing
    LinkFailed          the link failed (`data.reason` says why)
    LinkDeleted         everything of the link is removed
    DriftDetected       something the app manages was changed behind its back (`data.reason`)

An event is recorded in the link's outbox (`LinkStatus.outbox`) by the run that makes the change, written in the
same entity update as that change (`shared.run_frame.save`), and published after it; a publish that fails is
retried by the next run on the link (the monitor visits every link). Its id is fixed when recorded, so delivery
is at least once and a receiver de-duplicates by id. Nothing is recorded while no topic is configured.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.model import Link, PendingEvent, Phase

PREFIX = "Com.Emqx.PrivateLink."
SOURCE = "/emqx-azure-privatelink"


class EventType(StrEnum):
    LINK_PROVISIONED = PREFIX + "LinkProvisioned"
    ALIAS_READY = PREFIX + "AliasReady"
    CONNECTION_APPROVED = PREFIX + "ConnectionApproved"
    CONNECTION_REJECTED = PREFIX + "ConnectionRejected"
    LINK_RUNNING = PREFIX + "LinkRunning"
    REDIS_TEST_FAILED = PREFIX + "RedisTestFailed"
    REDIS_TEST_RECOVERED = PREFIX + "RedisTestRecovered"
    LINK_FAILED = PREFIX + "LinkFailed"
    LINK_DELETED = PREFIX + "LinkDeleted"
    DRIFT_DETECTED = PREFIX + "DriftDetected"


# The phases whose arrival is an event of its own (`shared.run.Run.move_to`).
PHASE_EVENTS = {
    Phase.PROVISIONED: EventType.LINK_PROVISIONED,
    Phase.AWAITING_CONSOLE: EventType.ALIAS_READY,
    Phase.RUNNING: EventType.LINK_RUNNING,
    Phase.FAILED: EventType.LINK_FAILED,
    Phase.DELETED: EventType.LINK_DELETED,
}


def subject_of(link_name: str) -> str:
    return f"links/{link_name}"


def pending_event(link: Link, event_type: EventType, reason: str, at: datetime, **extra: str) -> PendingEvent:
    """The event as the outbox keeps it: a new id, the link as it is now, and what happened."""
    status = link.status
    data: dict[str, Any] = {
        "name": link.name,
        "phase": status.phase.value,
        "loadBalancerId": str(link.spec.load_balancer_id),
        "privateLinkServiceId": str(link.spec.private_link_service_id),
        "reason": reason,
    }
    if status.emqx.id:
        data["emqxPrivateLinkId"] = status.emqx.id
    data |= extra
    return PendingEvent(id=str(uuid.uuid4()), type=event_type.value, time=at, data=data)


def as_cloud_event(link_name: str, event: PendingEvent) -> dict[str, Any]:
    """The CloudEvents 1.0 JSON form of a pending event (what the topic receives)."""
    return {
        "specversion": "1.0",
        "id": event.id,
        "source": SOURCE,
        "type": event.type,
        "subject": subject_of(link_name),
        "time": event.time.isoformat(),
        "datacontenttype": "application/json",
        "data": event.data,
    }
