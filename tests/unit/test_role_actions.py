"""The custom network role holds exactly the actions shared/azure_network.py needs.

The SDK calls are read from the module's syntax tree, each is mapped to the ARM actions ARM authorizes for it
(its own action, the polling of a long-running operation, and the linked-access `join` checks on the resources
its request body references), and the union must equal the role in infra/network-role.json, which
infra/main.bicep loads (and localcloud's ARM enforces for the app's identity).

The subnet and NIC bodies go back whole, so ARM checks the join action of everything a hub-spoke network
attaches to them (Azure's "Azure permissions for Networking": routeTables/join/action,
applicationSecurityGroups/joinIpConfiguration/action...), changed or not: a hub resource group gets those join
actions alone (the role's `hub` part).
"""

import ast
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from localcloud.arm.authorization import linked_actions

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "shared" / "azure_network.py"
MAIN_BICEP = ROOT / "infra" / "main.bicep"
ROLE_FILE = ROOT / "infra" / "network-role.json"

NET = "Microsoft.Network"
SUBNET_JOIN = f"{NET}/virtualNetworks/subnets/join/action"
NSG_JOIN = f"{NET}/networkSecurityGroups/join/action"
# What a spoke subnet or a backend NIC may reference in a hub resource group.
HUB_JOINS = frozenset(
    {
        NSG_JOIN,
        f"{NET}/routeTables/join/action",
        f"{NET}/natGateways/join/action",
        f"{NET}/serviceEndpointPolicies/join/action",
        f"{NET}/publicIPAddresses/join/action",
        f"{NET}/applicationSecurityGroups/joinIpConfiguration/action",
    }
)

# (operation group, method) -> the actions ARM checks for that call.
ACTIONS_BY_SDK_CALL: dict[tuple[str, str], frozenset[str]] = {
    ("subnets", "get"): frozenset({f"{NET}/virtualNetworks/subnets/read"}),
    # A subnet PUT replaces the subnet, so it sends back its network security group, route table, NAT gateway and
    # service endpoint policies.
    ("subnets", "begin_create_or_update"): frozenset(
        {
            f"{NET}/virtualNetworks/subnets/write",
            NSG_JOIN,
            f"{NET}/routeTables/join/action",
            f"{NET}/natGateways/join/action",
            f"{NET}/serviceEndpointPolicies/join/action",
        }
    ),
    ("network_interfaces", "get"): frozenset({f"{NET}/networkInterfaces/read"}),
    # The whole NIC goes back: its subnet, security group, public IPs and application security groups, plus the
    # link's pool and NAT rule references.
    ("network_interfaces", "begin_create_or_update"): frozenset(
        {
            f"{NET}/networkInterfaces/write",
            SUBNET_JOIN,
            NSG_JOIN,
            f"{NET}/publicIPAddresses/join/action",
            f"{NET}/applicationSecurityGroups/joinIpConfiguration/action",
            f"{NET}/loadBalancers/backendAddressPools/join/action",
            f"{NET}/loadBalancers/inboundNatRules/join/action",
        }
    ),
    ("load_balancers", "get"): frozenset({f"{NET}/loadBalancers/read"}),
    # The frontend IP configuration sits in a subnet; rules, pools and probes are the load balancer's own children.
    ("load_balancers", "begin_create_or_update"): frozenset({f"{NET}/loadBalancers/write", SUBNET_JOIN}),
    ("load_balancers", "begin_delete"): frozenset({f"{NET}/loadBalancers/delete"}),
    ("private_link_services", "get"): frozenset({f"{NET}/privateLinkServices/read"}),
    # The monitor lists a resource group's services: the same read action, on each service listed.
    ("private_link_services", "list"): frozenset({f"{NET}/privateLinkServices/read"}),
    # The NAT IP configuration sits in a subnet; the service fronts the load balancer's frontend IP configuration.
    ("private_link_services", "begin_create_or_update"): frozenset(
        {
            f"{NET}/privateLinkServices/write",
            SUBNET_JOIN,
            f"{NET}/loadBalancers/frontendIPConfigurations/join/action",
        }
    ),
    ("private_link_services", "begin_delete"): frozenset({f"{NET}/privateLinkServices/delete"}),
    ("private_link_services", "list_private_endpoint_connections"): frozenset(
        {f"{NET}/privateLinkServices/privateEndpointConnections/read"}
    ),
    ("private_link_services", "get_private_endpoint_connection"): frozenset(
        {f"{NET}/privateLinkServices/privateEndpointConnections/read"}
    ),
    ("private_link_services", "update_private_endpoint_connection"): frozenset(
        {f"{NET}/privateLinkServices/privateEndpointConnections/write"}
    ),
    ("private_link_services", "begin_delete_private_endpoint_connection"): frozenset(
        {f"{NET}/privateLinkServices/privateEndpointConnections/delete"}
    ),
}
# An SDK poller follows the Azure-AsyncOperation and Location URLs of a long-running operation.
POLLING = frozenset({f"{NET}/locations/operations/read", f"{NET}/locations/operationResults/read"})


def _operation_group(node: ast.expr) -> str | None:
    """`self._client(...).<group>` -> group."""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr == "_client"
    ):
        return node.attr
    return None


# The module's generic methods over a resource kind (`_Kind`), and the SDK method each calls on the kind's group.
GENERIC_METHODS = {"_get": "get", "_put": "begin_create_or_update", "_delete_resource": "begin_delete"}


def _kind_groups(tree: ast.Module) -> dict[str, str]:
    """`_NIC = _Kind("network interface", "network_interfaces", ...)` -> {"_NIC": "network_interfaces"}."""
    return {
        target.id: node.value.args[1].value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "_Kind"
        and isinstance(node.value.args[1], ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _generic_call(node: ast.Call, kinds: dict[str, str]) -> tuple[str, str] | None:
    """`self._get(_NIC, ...)` -> ("network_interfaces", "get")."""
    method = GENERIC_METHODS.get(node.func.attr) if isinstance(node.func, ast.Attribute) else None
    if method is None or not node.args or not isinstance(node.args[0], ast.Name) or node.args[0].id not in kinds:
        return None
    return kinds[node.args[0].id], method


def sdk_calls(source: str) -> set[tuple[str, str]]:
    """Every `(operation group, method)` the module calls on a client's operation group, directly or through a
    generic method over a resource kind."""
    calls: set[tuple[str, str]] = set()
    tree = ast.parse(source)
    kinds = _kind_groups(tree)
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        groups = {
            target.id: group
            for node in ast.walk(function)
            if isinstance(node, ast.Assign) and (group := _operation_group(node.value)) is not None
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(function):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if (generic := _generic_call(node, kinds)) is not None:
                calls.add(generic)
                continue
            owner = node.func.value
            group = groups.get(owner.id) if isinstance(owner, ast.Name) else _operation_group(owner)
            if group is not None:
                calls.add((group, node.func.attr))
    return calls


def needed_actions(calls: set[tuple[str, str]]) -> set[str]:
    actions: set[str] = set()
    for group, method in calls:
        actions |= ACTIONS_BY_SDK_CALL[group, method]
        if method.startswith("begin_"):
            actions |= POLLING
    return actions


@cache
def main_template() -> dict[str, Any]:
    return BicepParser().parse(file_path=MAIN_BICEP)


@cache
def role_file() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(ROLE_FILE.read_text(encoding="utf-8"))
    return document


def role_actions() -> list[str]:
    return list(role_file()["actions"])


def hub_actions() -> list[str]:
    return list(role_file()["hub"]["actions"])


def loaded_role(resource: str) -> dict[str, Any]:
    """The role definition's properties, whose names and actions main.bicep takes from the JSON file."""
    properties: dict[str, Any] = main_template()["resources"][resource]["config"]["config"]["properties"]
    return properties


def accessor(value: Any) -> list[str]:
    """`networkRoleDefinition.hub.actions` (pycep's nested property accessors) -> its names."""
    if not isinstance(value, dict):
        return [value]
    operands = value["operator"]["operands"]
    return [*accessor(operands["operand_1"]), *accessor(operands["operand_2"])]


def test_the_module_calls_are_read_from_its_syntax_tree() -> None:
    source = """
class A:
    async def f(self, x):
        ops = self._client(x.subscription_id).load_balancers
        await ops.get(x.resource_group, x.name)
        return await self._client(x.subscription_id).subnets.begin_delete(1, 2, 3)
"""
    assert sdk_calls(source) == {("load_balancers", "get"), ("subnets", "begin_delete")}


def test_calls_through_a_generic_method_over_a_kind_are_read_too() -> None:
    source = """
_LB = _Kind("load balancer", "load_balancers", LoadBalancer)
class A:
    async def f(self, x):
        await self._get(_LB, x)
        await self._delete_resource(_LB, x, 1.0)
"""
    assert sdk_calls(source) == {("load_balancers", "get"), ("load_balancers", "begin_delete")}


def test_every_sdk_call_of_the_module_has_its_actions_and_no_mapping_is_stale() -> None:
    calls = sdk_calls(MODULE.read_text(encoding="utf-8"))
    assert calls - ACTIONS_BY_SDK_CALL.keys() == set(), "map the new SDK calls to their ARM actions"
    assert ACTIONS_BY_SDK_CALL.keys() - calls == set(), "the module no longer makes these calls"


def test_the_role_holds_exactly_the_actions_the_code_needs() -> None:
    actions = role_actions()
    assert len(actions) == len(set(actions)), "an action is listed twice"
    assert set(actions) == needed_actions(sdk_calls(MODULE.read_text(encoding="utf-8")))


def test_every_action_says_why() -> None:
    assert set(role_file()["why"]) == set(role_actions())


def test_the_hub_role_holds_only_the_joins_a_hub_resource_group_needs() -> None:
    actions = hub_actions()
    assert len(actions) == len(set(actions))
    assert set(actions) == HUB_JOINS
    assert set(actions) <= set(role_actions())


def test_localcloud_asks_for_no_join_action_the_role_lacks() -> None:
    """localcloud's ARM refuses a body by these same actions (localcloud/arm/authorization.py)."""
    for types, call in (
        (("virtualNetworks", "subnets"), ("subnets", "begin_create_or_update")),
        (("networkInterfaces",), ("network_interfaces", "begin_create_or_update")),
        (("privateLinkServices",), ("private_link_services", "begin_create_or_update")),
    ):
        assert linked_actions(types) <= ACTIONS_BY_SDK_CALL[call], types
    # An internal load balancer's frontend references only its subnet.
    assert SUBNET_JOIN in linked_actions(("loadBalancers",))


@pytest.mark.parametrize("action", role_actions())
def test_no_action_is_a_wildcard_or_outside_microsoft_network(action: str) -> None:
    assert action.startswith(f"{NET}/")
    assert "*" not in action


def test_main_bicep_loads_the_role_from_the_json_file() -> None:
    variable = main_template()["variables"]["networkRoleDefinition"]["value"]["function"]
    assert variable == {
        "type": "load_json_content",
        "parameters": {"file_path": "network-role.json", "json_path": None, "encoding": None},
    }
    for resource, prefix in (("networkRole", []), ("hubNetworkRole", ["hub"])):
        properties = loaded_role(resource)
        assert accessor(properties["description"]) == ["networkRoleDefinition", *prefix, "description"]
        assert properties["roleName"].startswith("${networkRoleDefinition." + ".".join([*prefix, "name"]) + "}")
        (permissions,) = properties["permissions"]
        assert accessor(permissions["actions"]) == ["networkRoleDefinition", *prefix, "actions"]
        assert permissions["notActions"] == [] and permissions["dataActions"] == []


def test_the_role_is_assignable_and_assigned_only_on_the_target_resource_groups() -> None:
    template = main_template()
    role = template["resources"]["networkRole"]["config"]
    assert role["condition"] is not None, "no role without target resource groups"
    scopes = role["config"]["properties"]["assignableScopes"]
    assert scopes["loop_type"]["detail"]["array_name"] == "targetGroups"
    assignments = template["modules"]["networkRoleAssignments"]
    assert assignments["config"]["loop_type"]["detail"]["array_name"] == "targetGroups"
    assert assignments["config"]["config"]["scope"]["function"]["type"] == "resource_group"


def test_the_hub_role_is_assignable_and_assigned_only_on_the_hub_resource_groups() -> None:
    template = main_template()
    assert "hubResourceGroups" in template["parameters"]
    role = template["resources"]["hubNetworkRole"]["config"]
    assert role["condition"] is not None, "no hub role without hub resource groups"
    assert role["config"]["properties"]["assignableScopes"]["loop_type"]["detail"]["array_name"] == "hubGroups"
    assignments = template["modules"]["hubRoleAssignments"]
    assert assignments["config"]["loop_type"]["detail"]["array_name"] == "hubGroups"
    assert assignments["config"]["config"]["scope"]["function"]["type"] == "resource_group"
    assert accessor(assignments["config"]["config"]["params"]["roleDefinitionId"]) == ["hubNetworkRole", "id"]
