"""Service endpoint policies: which Azure Storage accounts a subnet's service endpoint may reach. A subnet lists
them in `serviceEndpointPolicies`; a policy shows those subnets (`subnets`). Definitions live in the body
(`serviceEndpointPolicyDefinitions`) and under their own path (extras.py). Nothing is enforced on traffic.
"""

from __future__ import annotations

from typing import Any

from localcloud.arm import errors
from localcloud.arm.associations import in_use, subnets_linking
from localcloud.arm.embedded import child_view
from localcloud.arm.engine import Change, Kind, envelope
from localcloud.arm.ids import ResourceId
from localcloud.arm.protocol import Context, Timing
from localcloud.arm.state import ArmState, Resource
from localcloud.arm.validation import location_of, named_items, without

CHILD = "serviceEndpointPolicyDefinitions"
_READ_ONLY = ("subnets", "resourceGuid", "kind")


def definition_properties(props: dict[str, Any], definition_id: str) -> dict[str, Any]:
    service = props.get("service")
    if not isinstance(service, str) or not service:
        raise errors.invalid_request_format(f"Service endpoint policy definition {definition_id} must name a service.")
    resources = props.get("serviceResources") or []
    if not isinstance(resources, list) or not all(isinstance(r, str) and r for r in resources):
        raise errors.invalid_request_format(
            f"Property 'serviceResources' of {definition_id} must be an array of resource ids."
        )
    stored: dict[str, Any] = {"service": service, "serviceResources": list(resources)}
    if props.get("description") is not None:
        stored["description"] = str(props["description"])
    stored.update(without(props, "service", "serviceResources", "description"))
    return stored


class ServiceEndpointPolicies(Kind):
    types = ("serviceEndpointPolicies",)
    timing = Timing(put=2, delete=8, retry_after=10, notify=True)
    children = (CHILD,)

    def prepare(self, ctx: Context, rid: ResourceId, existing: Resource | None, body: dict[str, Any]) -> Change:
        location = location_of(body)
        props = body.get("properties") or {}
        definitions = [
            {
                "name": item["name"],
                "properties": definition_properties(item.get("properties") or {}, f"{rid}/{CHILD}/{item['name']}"),
            }
            for item in named_items(props.get(CHILD), CHILD)
        ]
        stored = {CHILD: definitions, **without(props, CHILD, *_READ_ONLY)}
        return Change(properties=stored, location=location, tags=body.get("tags"))

    def child_items(self, resource: Resource, child_type: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = resource.properties[child_type]
        return items

    def render(self, state: ArmState, resource: Resource) -> dict[str, Any]:
        props: dict[str, Any] = {"resourceGuid": resource.resource_guid, **resource.properties}
        props[CHILD] = [child_view(resource, CHILD, item) for item in resource.properties[CHILD]]
        subnets = subnets_linking(state, "serviceEndpointPolicies", resource.key)
        if subnets:
            props["subnets"] = [{"id": subnet} for subnet in subnets]
        body = envelope(resource, props)
        body["kind"] = ""
        return body

    def check_delete(self, ctx: Context, resource: Resource) -> None:
        subnets = subnets_linking(ctx.state, "serviceEndpointPolicies", resource.key)
        if subnets:
            raise in_use(
                "InUseServiceEndpointPolicyCannotBeDeleted",
                f"Service endpoint policy {resource.id} cannot be deleted because it is in use by subnet(s) "
                f"{', '.join(subnets)}.",
            )
