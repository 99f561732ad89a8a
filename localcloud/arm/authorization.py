"""Azure RBAC for the identities it is switched on for: role definitions, role assignments, and the two checks
ARM makes before a resource provider sees a request.

1. The caller's own action at the request's scope: `Microsoft.Network/<types>/<read|write|delete>` (or the
   action of a POST) must be granted by a role assigned at that scope or above it, else 403 AuthorizationFailed.
2. Linked access, on a PUT: every resource id the body references (a subnet, a network security group, a route
   table, a backend pool...) needs its `join` action at that resource's own scope, whether the reference changed
   or not, else 403 LinkedAuthorizationFailed naming each action and linked scope. This is why an app that sends
   a whole subnet or NIC back needs `routeTables/join/action` on the hub's route table it never touches.

Identities RBAC is not switched on for keep localcloud's older check (their scopes are plain prefixes, any action).

The document (constructor argument `rbac`, and the control API `GET/PUT/DELETE /localcloud/rbac`)::

    {
      "principals": ["<client id>", ...],        # identities whose every request goes through RBAC
      "roles": [{"name", "description", "actions": [...], "notActions": [...], "assignableScopes": [...]}],
      "assignments": [{"principal": "<client id>", "role": "<role name>", "scope": "/subscriptions/..."}]
    }

Actions match case-insensitively and may hold `*` wildcards, as in Azure; an assignment at a scope covers
everything under it. An assignment must lie within its role's assignableScopes.

`network_rbac()` builds the document of the deployed role: infra/network-role.json (loaded by infra/main.bicep
too) for the app's client id, assigned at the given scopes.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from localcloud.arm import errors
from localcloud.arm.ids import PROVIDER, parse_id
from localcloud.identity import ManagedIdentity

ROLE_FILE = Path(__file__).resolve().parents[2] / "infra" / "network-role.json"

NET = PROVIDER
SUBNET_JOIN = f"{NET}/virtualNetworks/subnets/join/action"
NSG_JOIN = f"{NET}/networkSecurityGroups/join/action"
ROUTE_TABLE_JOIN = f"{NET}/routeTables/join/action"
NAT_GATEWAY_JOIN = f"{NET}/natGateways/join/action"
ENDPOINT_POLICY_JOIN = f"{NET}/serviceEndpointPolicies/join/action"
PUBLIC_IP_JOIN = f"{NET}/publicIPAddresses/join/action"
PUBLIC_IP_PREFIX_JOIN = f"{NET}/publicIPPrefixes/join/action"
ASG_JOIN_IP_CONFIGURATION = f"{NET}/applicationSecurityGroups/joinIpConfiguration/action"
ASG_JOIN_SECURITY_RULE = f"{NET}/applicationSecurityGroups/joinNetworkSecurityRule/action"
POOL_JOIN = f"{NET}/loadBalancers/backendAddressPools/join/action"
NAT_RULE_JOIN = f"{NET}/loadBalancers/inboundNatRules/join/action"
FRONTEND_JOIN = f"{NET}/loadBalancers/frontendIPConfigurations/join/action"
DDOS_PLAN_JOIN = f"{NET}/ddosProtectionPlans/join/action"

# A subnet's references, wherever a subnet body appears (a subnet PUT, or each subnet of a VNet PUT).
SUBNET_LINKS = {"networkSecurityGroup": NSG_JOIN, "routeTable": ROUTE_TABLE_JOIN, "natGateway": NAT_GATEWAY_JOIN}
SUBNET_LIST_LINKS = {"serviceEndpointPolicies": ENDPOINT_POLICY_JOIN}
NIC_LINKS = {"networkSecurityGroup": NSG_JOIN}
NIC_CONFIG_LINKS = {"subnet": SUBNET_JOIN, "publicIPAddress": PUBLIC_IP_JOIN}
NIC_CONFIG_LIST_LINKS = {
    "applicationSecurityGroups": ASG_JOIN_IP_CONFIGURATION,
    "loadBalancerBackendAddressPools": POOL_JOIN,
    "loadBalancerInboundNatRules": NAT_RULE_JOIN,
}

Json = dict[str, Any]
Link = tuple[str, str]  # (the join action, the referenced id as the body spells it)


class RbacError(ValueError):
    """A control API document that cannot be used (400)."""


# -- what a PUT body links to -----------------------------------------------------------------------------------


def _props(value: Any) -> Json:
    props = value.get("properties") if isinstance(value, dict) else None
    return props if isinstance(props, dict) else {}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _ref(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return str(value["id"])
    return None


def _single(props: Json, fields: Mapping[str, str]) -> list[Link]:
    return [(action, ref) for field, action in fields.items() if (ref := _ref(props.get(field)))]


def _listed(props: Json, fields: Mapping[str, str]) -> list[Link]:
    return [
        (action, ref) for field, action in fields.items() for item in _items(props.get(field)) if (ref := _ref(item))
    ]


def _subnet_links(props: Json) -> list[Link]:
    return _single(props, SUBNET_LINKS) + _listed(props, SUBNET_LIST_LINKS)


def _vnet(props: Json) -> list[Link]:
    links = _single(props, {"ddosProtectionPlan": DDOS_PLAN_JOIN})
    for subnet in _items(props.get("subnets")):
        links += _subnet_links(_props(subnet))
    return links


def _nic(props: Json) -> list[Link]:
    links = _single(props, NIC_LINKS)
    for config in _items(props.get("ipConfigurations")):
        links += _single(_props(config), NIC_CONFIG_LINKS) + _listed(_props(config), NIC_CONFIG_LIST_LINKS)
    return links


def _load_balancer(props: Json) -> list[Link]:
    links: list[Link] = []
    for frontend in _items(props.get("frontendIPConfigurations")):
        links += _single(
            _props(frontend),
            {"subnet": SUBNET_JOIN, "publicIPAddress": PUBLIC_IP_JOIN, "publicIPPrefix": PUBLIC_IP_PREFIX_JOIN},
        )
    return links


def _private_link_service(props: Json) -> list[Link]:
    links = _listed(props, {"loadBalancerFrontendIpConfigurations": FRONTEND_JOIN})
    for config in _items(props.get("ipConfigurations")):
        links += _single(_props(config), {"subnet": SUBNET_JOIN})
    return links


def _security_rule(props: Json) -> list[Link]:
    return _listed(
        props,
        {
            "sourceApplicationSecurityGroups": ASG_JOIN_SECURITY_RULE,
            "destinationApplicationSecurityGroups": ASG_JOIN_SECURITY_RULE,
        },
    )


def _security_group(props: Json) -> list[Link]:
    links: list[Link] = []
    for rule in _items(props.get("securityRules")):
        links += _security_rule(_props(rule))
    return links


_LINKS_BY_TYPE: dict[tuple[str, ...], Callable[[Json], list[Link]]] = {
    ("virtualNetworks",): _vnet,
    ("virtualNetworks", "subnets"): _subnet_links,
    ("networkInterfaces",): _nic,
    ("loadBalancers",): _load_balancer,
    ("privateLinkServices",): _private_link_service,
    ("privateEndpoints",): lambda props: _single(props, {"subnet": SUBNET_JOIN}),
    ("networkSecurityGroups",): _security_group,
    ("networkSecurityGroups", "securityRules"): _security_rule,
    ("natGateways",): lambda props: _listed(
        props, {"publicIpAddresses": PUBLIC_IP_JOIN, "publicIpPrefixes": PUBLIC_IP_PREFIX_JOIN}
    ),
}


def linked_references(types: tuple[str, ...], body: Any) -> list[Link]:
    """Every (join action, referenced id) ARM checks for a PUT of a resource of `types` with `body`, in body order."""
    links = _LINKS_BY_TYPE.get(types)
    found = links(_props(body)) if links is not None else []
    unique: dict[tuple[str, str], Link] = {}
    for action, ref in found:
        unique.setdefault((action.lower(), ref.rstrip("/").lower()), (action, ref))
    return list(unique.values())


def linked_actions(types: tuple[str, ...]) -> frozenset[str]:
    """The join actions a PUT of `types` may need (for the role's own test)."""
    samples = {
        ("virtualNetworks", "subnets"): [*SUBNET_LINKS.values(), *SUBNET_LIST_LINKS.values()],
        ("networkInterfaces",): [*NIC_LINKS.values(), *NIC_CONFIG_LINKS.values(), *NIC_CONFIG_LIST_LINKS.values()],
        ("loadBalancers",): [SUBNET_JOIN, PUBLIC_IP_JOIN, PUBLIC_IP_PREFIX_JOIN],
        ("privateLinkServices",): [FRONTEND_JOIN, SUBNET_JOIN],
    }
    return frozenset(samples.get(types, []))


# -- roles and assignments --------------------------------------------------------------------------------------


def _covers(scope: str, target: str) -> bool:
    return (target.rstrip("/").lower() + "/").startswith(scope.rstrip("/").lower() + "/")


@cache
def _pattern(action: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in action.split("*")) + "$", re.IGNORECASE)


@dataclass(frozen=True)
class RoleDefinition:
    name: str
    description: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    assignable_scopes: tuple[str, ...]

    def permits(self, action: str) -> bool:
        return any(_pattern(a).match(action) for a in self.actions) and not any(
            _pattern(a).match(action) for a in self.not_actions
        )

    def body(self) -> Json:
        return {
            "name": self.name,
            "description": self.description,
            "actions": list(self.actions),
            "notActions": list(self.not_actions),
            "assignableScopes": list(self.assignable_scopes),
        }


@dataclass(frozen=True)
class Assignment:
    principal: str
    role: RoleDefinition
    scope: str

    def body(self) -> Json:
        return {"principal": self.principal, "role": self.role.name, "scope": self.scope}


def _strings(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise RbacError(f"'{field}' must be an array of non-empty strings")
    return tuple(value)


def _scope(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.lower().startswith("/subscriptions/"):
        raise RbacError(f"'{field}' must be a scope under /subscriptions/, got {value!r}")
    return value.rstrip("/")


def _roles(value: Any) -> dict[str, RoleDefinition]:
    roles: dict[str, RoleDefinition] = {}
    for index, item in enumerate(value if isinstance(value, list) else [None]):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise RbacError(f"roles[{index}] must be an object with a 'name'")
        if item["name"].lower() in roles:
            raise RbacError(f"role '{item['name']}' is defined twice")
        scopes = _strings(item.get("assignableScopes"), f"roles[{index}].assignableScopes")
        roles[item["name"].lower()] = RoleDefinition(
            name=item["name"],
            description=str(item.get("description", "")),
            actions=_strings(item.get("actions"), f"roles[{index}].actions"),
            not_actions=_strings(item["notActions"], f"roles[{index}].notActions") if item.get("notActions") else (),
            assignable_scopes=tuple(_scope(s, f"roles[{index}].assignableScopes") for s in scopes),
        )
    return roles


class Rbac:
    """The roles and assignments one ARM app enforces; `restore()` goes back to the constructor's document."""

    def __init__(self, document: Mapping[str, Any] | None, known_clients: Iterable[str]):
        self._known = {client.lower(): client for client in known_clients}
        self._default: Json = copy.deepcopy(dict(document)) if document else {}
        self.principals: dict[str, str] = {}
        self.roles: dict[str, RoleDefinition] = {}
        self.assignments: list[Assignment] = []
        self.replace(self._default)

    # the document

    def replace(self, document: Any) -> None:
        """Validate `document` whole, then use it (a refused document changes nothing)."""
        if not isinstance(document, dict):
            raise RbacError("the body must be an object with 'principals', 'roles' and 'assignments'")
        unknown = set(document) - {"principals", "roles", "assignments"}
        if unknown:
            raise RbacError(f"unknown fields: {', '.join(sorted(unknown))}")
        principals: dict[str, str] = {}
        for client in _strings(document.get("principals", []), "principals") if document.get("principals") else ():
            if client.lower() not in self._known:
                raise RbacError(f"'{client}' is not an identity of this ARM")
            principals[client.lower()] = self._known[client.lower()]
        roles = _roles(document.get("roles", [])) if document.get("roles") else {}
        assignments: list[Assignment] = []
        raw = document.get("assignments", [])
        if not isinstance(raw, list):
            raise RbacError("'assignments' must be an array")
        for index, item in enumerate(raw):
            if not isinstance(item, dict):
                raise RbacError(f"assignments[{index}] must be an object with 'principal', 'role' and 'scope'")
            principal = str(item.get("principal", "")).lower()
            if principal not in principals:
                raise RbacError(f"assignments[{index}].principal must be one of 'principals'")
            role = roles.get(str(item.get("role", "")).lower())
            if role is None:
                raise RbacError(f"assignments[{index}].role names no role of 'roles'")
            scope = _scope(item.get("scope"), f"assignments[{index}].scope")
            if not any(_covers(assignable, scope) for assignable in role.assignable_scopes):
                raise RbacError(f"role '{role.name}' is not assignable at scope '{scope}' (its assignableScopes)")
            assignments.append(Assignment(principals[principal], role, scope))
        self.principals, self.roles, self.assignments = principals, roles, assignments

    def restore(self) -> None:
        self.replace(self._default)

    def document(self) -> Json:
        return {
            "principals": list(self.principals.values()),
            "roles": [role.body() for role in self.roles.values()],
            "assignments": [assignment.body() for assignment in self.assignments],
        }

    # the checks

    def enforces(self, identity: ManagedIdentity) -> bool:
        return identity.client_id.lower() in self.principals

    def _grants(self, identity: ManagedIdentity) -> list[Assignment]:
        wanted = identity.client_id.lower()
        return [a for a in self.assignments if a.principal.lower() == wanted]

    def allows(self, identity: ManagedIdentity, action: str, scope: str) -> bool:
        return any(a.role.permits(action) and _covers(a.scope, scope) for a in self._grants(identity))

    def authorize(self, identity: ManagedIdentity, action: str, scope: str, *, subscription: str | None) -> None:
        """The caller's own action; `subscription` for subscription-wide reads (operation status), which ARM
        grants to a principal holding the action anywhere in that subscription."""
        if subscription is not None:
            within = f"/subscriptions/{subscription}"
            allowed = any(
                a.role.permits(action) and (_covers(within, a.scope) or _covers(a.scope, within))
                for a in self._grants(identity)
            )
        else:
            allowed = self.allows(identity, action, scope)
        if not allowed:
            raise errors.authorization_failed(identity.client_id, identity.principal_id, action, scope)

    def authorize_links(self, identity: ManagedIdentity, action: str, scope: str, body: Any) -> None:
        """Linked access for a PUT to `scope` (a resource id) with `body`."""
        target = parse_id(scope)
        if target is None:
            return
        refused = [
            (linked, ref)
            for linked, ref in linked_references(target.types, body)
            if not self.allows(identity, linked, ref)
        ]
        if refused:
            raise errors.linked_authorization_failed(
                client_id=identity.client_id,
                object_id=identity.principal_id,
                action=action,
                scope=scope,
                linked_action=",".join(linked for linked, _ in refused),
                linked_scope=",".join(ref for _, ref in refused),
            )


# -- the deployed role ------------------------------------------------------------------------------------------


def network_role_file() -> Json:
    document: Json = json.loads(ROLE_FILE.read_text(encoding="utf-8"))
    return document


def network_rbac(client_id: str, scopes: Sequence[str], *, assignable: Sequence[str] | None = None) -> Json:
    """The app's identity under RBAC with the network role (and the hub role, assignable only) of
    infra/network-role.json: the network role assigned at each of `scopes`, both assignable within `assignable`
    (default: the subscriptions of `scopes`)."""
    definition = network_role_file()
    assignable = list(assignable or sorted({"/".join(s.split("/")[:3]) for s in scopes}))
    hub = definition["hub"]
    return {
        "principals": [client_id],
        "roles": [
            {
                "name": definition["name"],
                "description": definition["description"],
                "actions": list(definition["actions"]),
                "assignableScopes": assignable,
            },
            {
                "name": hub["name"],
                "description": hub["description"],
                "actions": list(hub["actions"]),
                "assignableScopes": assignable,
            },
        ],
        "assignments": [{"principal": client_id, "role": definition["name"], "scope": scope} for scope in scopes],
    }


# -- the control API --------------------------------------------------------------------------------------------


def rbac_routes(rbac: Rbac) -> list[Route]:
    """`GET /localcloud/rbac` (the document), `PUT` (replace it whole: 200, or 400 naming what is wrong),
    `DELETE` (back to the document the app was built with: 204)."""

    async def read(request: Request) -> Response:
        return JSONResponse(rbac.document())

    async def replace(request: Request) -> Response:
        try:
            document = json.loads(await request.body() or b"null")
            rbac.replace(document)
        except ValueError as exc:  # RbacError, or a body that is not JSON
            return JSONResponse({"error": {"code": "BadRequest", "message": str(exc)}}, status_code=400)
        return JSONResponse(rbac.document())

    async def restore(request: Request) -> Response:
        rbac.restore()
        return Response(status_code=204)

    return [
        Route("/rbac", read, methods=["GET"]),
        Route("/rbac", replace, methods=["PUT"]),
        Route("/rbac", restore, methods=["DELETE"]),
    ]
