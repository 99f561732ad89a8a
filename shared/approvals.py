"""Decide every Pending connection of a link's Private Link Service, from what ARM says now.

One ARM read (the PLS, which carries its connections and its ownership tags) serves both the decision and the
connection states the link reports. Events only wake this up; they are never trusted for the facts.

A decision counts (audited, reported Approved or Rejected) only once ARM reports the connection with that status
and `provisioningState` Succeeded: an update still running is reported Pending, and one that ended Failed did not
take, so the connection is decided again by the next run (an approval always; a rejection only if this app made it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from shared import arm_reading
from shared.desired import Json
from shared.events import EventType
from shared.model import ConnectionState
from shared.policy import ConnectionFacts, Decision, decide
from shared.run import PlannedCall, Run

_DECIDED_STATUS = {Decision.APPROVE: "Approved", Decision.REJECT: "Rejected"}
_DECISION_OF = {status: decision for decision, status in _DECIDED_STATUS.items()}
_ACTOR = "by emqx-azure-privatelink"


def _decided_here(connection: Json) -> bool:
    """This app's own decision (its description says so: see decide_connections)."""
    status = arm_reading.connection_status(connection)
    return arm_reading.connection_description(connection).startswith(f"{status} {_ACTOR}")


def _reported_status(connection: Json) -> str:
    """Approved or Rejected only once ARM's update of the connection Succeeded; Pending before, or if it failed."""
    status = arm_reading.connection_status(connection)
    if status in _DECISION_OF and arm_reading.provisioning_state(connection) != "Succeeded":
        return "Pending"
    return status


def _policy_status(connection: Json) -> str:
    """The status the policy decides on: a decision whose update ARM ended Failed did not take, so the connection
    is decided again (an approval always; a rejection only if it was this app's)."""
    status = arm_reading.connection_status(connection)
    if arm_reading.failed(connection) and (
        status == "Approved" or (status == "Rejected" and _decided_here(connection))
    ):
        return "Pending"
    return status


def connection_states(pls: Json) -> list[ConnectionState]:
    return [
        ConnectionState(
            name=str(c.get("name", "")),
            private_endpoint_id=arm_reading.connection_endpoint_id(c),
            status=_reported_status(c),
            description=arm_reading.connection_description(c),
        )
        for c in arm_reading.connections_of(pls)
    ]


def _decided(run: Run, connection: str, decision: Decision, reason: str) -> None:
    """A decision that counts (ARM took it): audited, and told to other systems."""
    run.audit("decide connection", connection, decision.value, reason)
    approved = decision is Decision.APPROVE
    run.emit(
        EventType.CONNECTION_APPROVED if approved else EventType.CONNECTION_REJECTED, reason, connection=connection
    )


def _record(run: Run, state: ConnectionState) -> None:
    """Record an audited decision in the link at once, so that a later failure of the same run (its status is saved
    all the same) cannot make the next run audit it a second time."""
    if not run.dry_run:
        others = [c for c in run.link.status.connections if c.name != state.name]
        run.link.status.connections = [*others, state]


@dataclass(frozen=True)
class _Known:
    """What the link knew of its connections and their policy inputs before this run's decisions."""

    managed: bool
    allowed_subscriptions: list[str]
    deleting: bool
    for_teardown: bool
    pending: frozenset[str]
    recorded: dict[str, str]


async def decide_connections(run: Run, pls: Json, *, for_teardown: bool = False) -> list[ConnectionState]:
    """Apply the approval policy to every connection of `pls`; returns the states after the decisions.

    `for_teardown`: a removal that waits for EMQX's PrivateLink to settle before EMQX can delete it.
    """
    link = run.link
    known = _Known(
        managed=arm_reading.owner_of(pls) == link.name,
        allowed_subscriptions=[sub for sub in (run.emqx_subscription,) if sub],
        deleting=link.status.phase.being_deleted,
        for_teardown=for_teardown,
        pending=frozenset(c.name for c in link.status.connections if c.status == "Pending"),
        recorded={c.name: c.status for c in link.status.connections},
    )
    states = [
        await _decide(run, known, connection, observed)
        for connection, observed in zip(arm_reading.connections_of(pls), connection_states(pls), strict=True)
    ]
    if not run.dry_run:
        link.status.connections = states
    return states


async def _decide(run: Run, known: _Known, connection: Json, state: ConnectionState) -> ConnectionState:
    """Decide one connection by the policy; returns its state after the decision."""
    _audit_completed_decision(run, known, connection, state)
    facts = ConnectionFacts(
        name=state.name,
        status=_policy_status(connection),
        endpoint_subscription_id=state.private_endpoint_id.subscription_id if state.private_endpoint_id else None,
    )
    verdict = decide(
        facts,
        managed=known.managed,
        allowed_subscriptions=known.allowed_subscriptions,
        deleting=known.deleting,
        emqx_must_settle=known.for_teardown,
        unmatched=run.settings.unmatched_connections,
    )
    new_status = _DECIDED_STATUS.get(verdict.decision)
    if new_status is None:
        if facts.status == "Pending" and state.name not in known.pending:
            run.audit("decide connection", state.name, verdict.decision.value, verdict.reason)
        return state
    pls_id = run.link.spec.private_link_service_id
    description = f"{new_status} {_ACTOR}: {verdict.reason}"
    # Raises OperationStillRunningError while ARM's update runs (the run that finds it Succeeded audits it)
    # and TemporaryError when it ended Failed (the next run decides again): audited only once it counts.
    await run.mutate(
        PlannedCall("arm", "PUT", f"{pls_id}/privateEndpointConnections/{state.name}", verdict.reason),
        partial(run.services.network.set_connection_state, pls_id, state.name, new_status, description, run.deadline),
        None,
    )
    _decided(run, state.name, verdict.decision, verdict.reason)
    state = state.model_copy(update={"status": new_status, "description": description})
    _record(run, state)
    return state


def _audit_completed_decision(run: Run, known: _Known, connection: Json, state: ConnectionState) -> None:
    """This app's decision, which ARM completed after the run that made it ended (still Updating then): audited
    now that it counts."""
    decided = arm_reading.connection_status(connection)
    if (
        state.status in _DECISION_OF
        and _decided_here(connection)
        and known.recorded.get(state.name) != state.status
        and not run.dry_run
    ):
        reason = arm_reading.connection_description(connection).removeprefix(f"{decided} {_ACTOR}:").strip()
        _decided(run, state.name, _DECISION_OF[decided], reason)
        _record(run, state)
