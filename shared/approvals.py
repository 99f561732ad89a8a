"""Decide every Pending connection of a link's Private Link Service, from what ARM says now.

One ARM read (the PLS, which carries its connections and its ownership tags) serves both the decision and the
connection states the link reports. Events only wake this up; they are never trusted for the facts.
"""

from __future__ import annotations

from functools import partial

from shared import desired
from shared.azure_network import OperationStillRunningError
from shared.desired import Json
from shared.model import ConnectionState, Phase
from shared.names import ResourceId
from shared.policy import ConnectionFacts, Decision, decide
from shared.provisioning import emqx_subscription
from shared.run import PlannedCall, Run

_DECIDED_STATUS = {Decision.APPROVE: "Approved", Decision.REJECT: "Rejected"}


def _endpoint_id(connection: Json) -> ResourceId | None:
    endpoint = (connection.get("properties") or {}).get("privateEndpoint") or {}
    try:
        return ResourceId.parse(str(endpoint.get("id", "")))
    except ValueError:
        return None


def _status(connection: Json) -> str:
    state = (connection.get("properties") or {}).get("privateLinkServiceConnectionState") or {}
    return str(state.get("status", "Pending"))


def connection_states(pls: Json) -> list[ConnectionState]:
    return [
        ConnectionState(
            name=str(c.get("name", "")),
            private_endpoint_id=_endpoint_id(c),
            status=_status(c),
            description=str(
                ((c.get("properties") or {}).get("privateLinkServiceConnectionState") or {}).get("description", "")
            ),
        )
        for c in desired.connections_of(pls)
    ]


async def decide_connections(run: Run, pls: Json, *, for_teardown: bool = False) -> list[ConnectionState]:
    """Apply the approval policy to every connection of `pls`; returns the states after the decisions.

    `for_teardown`: a removal that waits for EMQX's PrivateLink to settle before EMQX can delete it.
    """
    link, network = run.link, run.services.network
    pls_id = link.spec.private_link_service_id
    managed = desired.owner_of(pls) == link.name
    allowed = [sub for sub in (emqx_subscription(run),) if sub]
    deleting = link.status.phase in (Phase.DELETING, Phase.DELETED)
    known_pending = {c.name for c in link.status.connections if c.status == "Pending"}
    states = []
    for observed in connection_states(pls):
        state = observed
        facts = ConnectionFacts(
            name=state.name,
            status=state.status,
            endpoint_subscription_id=state.private_endpoint_id.subscription_id if state.private_endpoint_id else None,
        )
        verdict = decide(
            facts,
            managed=managed,
            allowed_subscriptions=allowed,
            deleting=deleting,
            emqx_must_settle=for_teardown,
            unmatched=run.settings.unmatched_connections,
        )
        new_status = _DECIDED_STATUS.get(verdict.decision)
        if new_status is not None:
            description = f"{new_status} by emqx-azure-privatelink: {verdict.reason}"
            try:
                await run.mutate(
                    PlannedCall("arm", "PUT", f"{pls_id}/privateEndpointConnections/{state.name}", verdict.reason),
                    partial(network.set_connection_state, pls_id, state.name, new_status, description, run.deadline),
                    None,
                )
            except OperationStillRunningError:
                # ARM took the decision and completes it by itself: the next run finds the connection decided
                # and has nothing to audit, so this run audits it.
                run.audit("decide connection", state.name, verdict.decision.value, verdict.reason)
                raise
            run.audit("decide connection", state.name, verdict.decision.value, verdict.reason)
            state = state.model_copy(update={"status": new_status, "description": description})
        elif facts.status == "Pending" and state.name not in known_pending:
            run.audit("decide connection", state.name, verdict.decision.value, verdict.reason)
        states.append(state)
    if not run.dry_run:
        link.status.connections = states
    return states
