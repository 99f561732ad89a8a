"""The approval policy: a pure decision on one private endpoint connection, with its reason.

Approve only a Pending connection on a Private Link Service this app manages, whose private endpoint lives in
a subscription allowed for that link (EMQX's), while the link is not being deleted — unless its removal waits for
EMQX's PrivateLink to settle, which needs that connection approved. Never touch Approved,
Rejected or Disconnected connections. Any other Pending connection stays Pending, or is rejected when the app
setting UNMATCHED_CONNECTIONS is `reject`. The input is what ARM says now, never what an event claimed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from shared.settings import UnmatchedConnections


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    LEAVE = "leave"


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str


@dataclass(frozen=True)
class ConnectionFacts:
    """One connection as ARM reports it: its state and the subscription of its private endpoint."""

    name: str
    status: str
    endpoint_subscription_id: str | None


def decide(
    connection: ConnectionFacts,
    *,
    managed: bool,
    allowed_subscriptions: Collection[str],
    deleting: bool,
    unmatched: UnmatchedConnections,
    emqx_must_settle: bool = False,
) -> Verdict:
    if connection.status != "Pending":
        return Verdict(Decision.LEAVE, f"the connection is {connection.status}; only Pending ones are decided")
    if not managed:
        return Verdict(Decision.LEAVE, "the private link service is not managed by this app")
    if deleting and not emqx_must_settle:
        return Verdict(Decision.LEAVE, "the link is being deleted")
    subscription = (connection.endpoint_subscription_id or "").lower()
    source = f"subscription {subscription}" if subscription else "an unknown subscription"
    if subscription and subscription in {allowed.lower() for allowed in allowed_subscriptions}:
        reason = f"the private endpoint is in allowed subscription {subscription}"
        if deleting:
            reason += "; the link is being deleted, and EMQX removes its PrivateLink only once it is running"
        return Verdict(Decision.APPROVE, reason)
    unmatched_reason = f"the private endpoint is in {source}, which is not allowed for this link"
    if deleting or unmatched is UnmatchedConnections.LEAVE:
        # Never reject during a removal: the connection goes with the PLS anyway.
        return Verdict(Decision.LEAVE, unmatched_reason)
    return Verdict(Decision.REJECT, unmatched_reason)
