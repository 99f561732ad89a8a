"""Private endpoints: the consumer side, usually in another subscription than the private link service.

A PE names its PLS by resource id or alias, once (manual connection: Pending unless the consumer's subscription is
in the PLS's autoApproval list; automatic connection: needs autoApproval or the right to approve on the PLS, else
403 LinkedAuthorizationFailed). The PLS must be visible to the consumer's subscription. Azure gives the PE a NIC
with an address from its subnet and a connection on the PLS named `<peName>.<peResourceGuid>`; the PE shows that
connection's state, or Disconnected once the provider removed it.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from localcloud.arm import errors
from localcloud.arm.addressing import Allocator
from localcloud.arm.engine import Change, Kind, envelope
from localcloud.arm.ids import PROVIDER, ResourceId
from localcloud.arm.interfaces import config_properties, managed_nic
from localcloud.arm.links import resolve_subnet
from localcloud.arm.privatelink import find_service
from localcloud.arm.protocol import Context, Timing, emit
from localcloud.arm.state import ArmState, Resource
from localcloud.arm.validation import check_name, location_of, without
from localcloud.identity import ManagedIdentity

MANUAL = "manualPrivateLinkServiceConnections"
AUTOMATIC = "privateLinkServiceConnections"
_PE_READ_ONLY = (MANUAL, AUTOMATIC, "subnet", "networkInterfaces", "customDnsConfigs", "resourceGuid")
_DISCONNECTED = {
    "status": "Disconnected",
    "description": "Connection has been disconnected.",
    "actionsRequired": "None",
}


def visible(pls: Resource, consumer_subscription: str, identity: ManagedIdentity) -> bool:
    allowed = {s.lower() for s in pls.properties["visibility"]["subscriptions"]}
    allowed |= {s.lower() for s in pls.properties["autoApproval"]["subscriptions"]}
    return "*" in allowed or consumer_subscription.lower() in allowed or identity.may_touch(pls.id)


def auto_approved(pls: Resource, consumer_subscription: str) -> bool:
    return consumer_subscription.lower() in {s.lower() for s in pls.properties["autoApproval"]["subscriptions"]}


class PrivateEndpoints(Kind):
    types = ("privateEndpoints",)
    timing = Timing(put=30, delete=15, retry_after=10, notify=True)

    def prepare(self, ctx: Context, rid: ResourceId, existing: Resource | None, body: dict[str, Any]) -> Change:
        location = location_of(body)
        props = body.get("properties") or {}
        pe_id = str(rid)
        subnet = resolve_subnet(ctx.state, props.get("subnet"), pe_id, location)
        manual, automatic = props.get(MANUAL) or [], props.get(AUTOMATIC) or []
        if not isinstance(manual, list) or not isinstance(automatic, list) or len(manual) + len(automatic) != 1:
            raise errors.invalid_request_format(
                f"Private endpoint {pe_id} must have exactly one private link service connection."
            )
        field = MANUAL if manual else AUTOMATIC
        entry = (manual or automatic)[0]
        name = entry.get("name") or rid.name
        check_name(name)
        wanted = entry.get("properties") or {}
        target = wanted.get("privateLinkServiceId")
        if not isinstance(target, str) or not target:
            raise errors.invalid_request_format(f"Private endpoint {pe_id} must name a privateLinkServiceId.")
        pls = find_service(ctx.state, target)
        if pls is None or not visible(pls, rid.subscription, ctx.identity):
            raise errors.pls_not_visible(target, pe_id)
        approved = auto_approved(pls, rid.subscription)
        if field == AUTOMATIC and not approved and not ctx.identity.may_touch(pls.id):
            raise errors.linked_authorization_failed(
                client_id=ctx.identity.client_id,
                object_id=ctx.identity.principal_id,
                action=f"{PROVIDER}/privateEndpoints/write",
                scope=pe_id,
                linked_action=f"{PROVIDER}/privateLinkServices/PrivateEndpointConnectionsApproval/action",
                linked_scope=pls.id,
            )

        guid = existing.resource_guid if existing else str(uuid.uuid4())
        if existing:
            nic_name = existing.extra["nic_id"].rsplit("/", 1)[1]
        else:
            nic_name = props.get("customNetworkInterfaceName") or f"{rid.name}.nic.{uuid.uuid4()}"
            check_name(nic_name)
        nic_rid = ResourceId(rid.subscription, rid.resource_group, ("networkInterfaces",), (nic_name,))
        nic_id = str(nic_rid)
        config_name = existing.extra["config_name"] if existing else f"privateEndpointIpConfig.{uuid.uuid4()}"
        allocator = Allocator(ctx.state, exclude={rid.key, nic_rid.key})
        # A static address comes as the privateIPAddress of the PE's (single) ipConfigurations entry.
        static_ip = next(
            (
                c["properties"].get("privateIPAddress")
                for c in props.get("ipConfigurations") or []
                if isinstance(c, dict) and isinstance(c.get("properties"), dict)
            ),
            None,
        )
        method = "Static" if static_ip else "Dynamic"
        ip = allocator.assign(
            subnet,
            f"{nic_id}/ipConfigurations/{config_name}",
            method,
            static_ip,
            existing.extra.get("ip") if existing else None,
        )
        connection_rid = pls.rid.child("privateEndpointConnections", f"{rid.name}.{guid}")
        previous_connection = existing.extra.get("connection_id") if existing else None
        stored = {
            AUTOMATIC: [],
            MANUAL: [],
            "subnet": {"id": subnet.id},
            **without(props, *_PE_READ_ONLY),
        }
        stored[field] = [
            {
                "name": name,
                "properties": {
                    "privateLinkServiceId": target,
                    "groupIds": wanted.get("groupIds") or [],
                    "requestMessage": wanted.get("requestMessage", ""),
                },
            }
        ]
        extra = {"nic_id": nic_id, "config_name": config_name, "ip": ip, "connection_id": str(connection_rid)}
        initial_state = (
            {"status": "Approved", "description": "Auto Approved", "actionsRequired": "None"}
            if approved or field == AUTOMATIC
            else {"status": "Pending", "description": "Awaiting approval", "actionsRequired": "None"}
        )
        # Only a new PE (or one pointed at another PLS) asks for a connection; a Disconnected PE stays so.
        creates_connection = previous_connection is None or previous_connection.lower() != connection_rid.key

        def apply(pe: Resource) -> None:
            configs = [{"name": config_name, "properties": config_properties(subnet.id, method, ip, True)}]
            nic = ctx.state.get(nic_rid)
            if nic is None:
                ctx.state.put(managed_nic(nic_rid, location, configs, "privateEndpoint", pe.id))
            else:
                nic.properties["ipConfigurations"] = configs
                nic.touch()
                ctx.state.put(nic)
            if previous_connection and previous_connection.lower() != connection_rid.key:
                _drop_connection(ctx.state, previous_connection)
            if creates_connection:
                connection = Resource(
                    rid=connection_rid,
                    location=None,
                    state="Updating",
                    properties={
                        "privateEndpoint": {"id": pe.id},
                        "privateLinkServiceConnectionState": dict(initial_state),
                        "linkIdentifier": str(random.randint(100000000, 999999999)),
                        "privateEndpointLocation": location,
                    },
                )
                ctx.state.put(connection)
                pls.touch()

        def complete(pe: Resource) -> None:
            connection = ctx.state.get(connection_rid)
            if connection is None or not creates_connection:
                return
            if not connection.operation:  # else the provider's update of it (privatelink.py) decides its state
                connection.state = "Succeeded"
            connection_state = connection.properties["privateLinkServiceConnectionState"]
            if connection_state["description"] == "Auto Approved":
                connection_state["description"] = "Approved"
            if connection_state["status"] == "Pending" and ctx.rt.pending_connection_events():
                emit(
                    ctx,
                    verb="Write",
                    resource_id=connection.id,
                    subscription=pls.rid.subscription,
                    resource_group=pls.rid.resource_group,
                    operation_name=f"{PROVIDER}/privateLinkServices/privateEndpointConnections/write",
                    created=True,
                )

        return Change(
            properties=stored,
            location=location,
            tags=body.get("tags"),
            resource_guid=guid,
            extra=extra,
            apply=apply,
            complete=complete,
        )

    def render(self, state: ArmState, resource: Resource) -> dict[str, Any]:
        p = resource.properties
        connection = state.get(resource.extra["connection_id"])
        connection_state = (
            dict(connection.properties["privateLinkServiceConnectionState"]) if connection else _DISCONNECTED
        )

        def view(field: str) -> list[dict[str, Any]]:
            return [
                {
                    "name": entry["name"],
                    "id": f"{resource.id}/{field}/{entry['name']}",
                    "etag": resource.etag,
                    "type": f"{PROVIDER}/privateEndpoints/{field}",
                    "properties": {
                        "provisioningState": resource.state,
                        **entry["properties"],
                        "privateLinkServiceConnectionState": connection_state,
                    },
                }
                for entry in p[field]
            ]

        target = (p[MANUAL] or p[AUTOMATIC])[0]["properties"]["privateLinkServiceId"]
        pls = find_service(state, target)
        fqdns = pls.properties["fqdns"] if pls else []
        ip = resource.extra["ip"]
        dns = [{"fqdn": fqdn, "ipAddresses": [ip]} for fqdn in fqdns] or [{"ipAddresses": [ip]}]
        props = {
            "resourceGuid": resource.resource_guid,
            AUTOMATIC: view(AUTOMATIC),
            MANUAL: view(MANUAL),
            "subnet": p["subnet"],
            "networkInterfaces": [{"id": resource.extra["nic_id"]}],
            "customDnsConfigs": dns,
            "applicationSecurityGroups": [],
            "ipConfigurations": [],
            **{k: v for k, v in p.items() if k not in (MANUAL, AUTOMATIC, "subnet")},
        }
        return envelope(resource, props)

    def deleted(self, ctx: Context, resource: Resource) -> None:
        nic = ctx.state.get(resource.extra["nic_id"])
        if nic is not None:
            ctx.state.drop(nic)
        _drop_connection(ctx.state, resource.extra["connection_id"])


def _drop_connection(state: ArmState, connection_id: str) -> None:
    connection = state.get(connection_id)
    if connection is not None:
        state.drop(connection)
        pls = state.get(connection.rid.top)
        if pls is not None:
            pls.touch()
