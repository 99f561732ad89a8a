"""ARM's error answers: `{"error": {"code", "message", ...}}` with the codes and message forms Azure uses.

Codes and messages follow tests/fixtures/azure/errors/arm-error-samples.json where a real message was captured;
where only the code is known the message is written in the same style (see the README of this package).
"""

from __future__ import annotations

from typing import Any

NETWORK_NAME_RULE = (
    "The name can be up to 80 characters long. It must begin with a word character, and it must end with a word "
    "character or with '_'. The name may contain word characters or '.', '-', '_'."
)


class ArmError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


def missing_api_version() -> ArmError:
    return ArmError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
    )


def authentication_missing() -> ArmError:
    return ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")


def authentication_malformed() -> ArmError:
    return ArmError(
        401,
        "AuthenticationFailed",
        "Authentication failed. The 'Authorization' header is provided in an invalid format.",
    )


def authorization_failed(client_id: str, object_id: str, action: str, scope: str) -> ArmError:
    return ArmError(
        403,
        "AuthorizationFailed",
        f"The client '{client_id}' with object id '{object_id}' does not have authorization to perform action "
        f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh "
        "your credentials.",
    )


def linked_authorization_failed(
    *, client_id: str, object_id: str, action: str, scope: str, linked_action: str, linked_scope: str
) -> ArmError:
    return ArmError(
        403,
        "LinkedAuthorizationFailed",
        f"The client '{client_id}' with object id '{object_id}' has permission to perform action '{action}' on scope "
        f"'{scope}'; however, it does not have permission to perform action(s) '{linked_action}' on the linked "
        f"scope(s) '{linked_scope}' (respectively) or the linked scope(s) are invalid.",
    )


def resource_group_not_found(resource_group: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{resource_group}' could not be found.")


def group_being_deleted(resource_group: str) -> ArmError:
    return ArmError(
        409,
        "ResourceGroupBeingDeleted",
        f"The resource group '{resource_group}' is in deprovisioning state and cannot perform this operation.",
    )


def resource_not_found(type_name: str, name: str, resource_group: str) -> ArmError:
    """A missing top-level resource, as ARM itself answers it."""
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{type_name}/{name}' under resource group '{resource_group}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def child_not_found(resource_id: str) -> ArmError:
    """A missing child resource under an existing parent, as the Network resource provider answers it."""
    return ArmError(404, "NotFound", f"Resource {resource_id} not found.", details=[])


def invalid_resource_name(name: str) -> ArmError:
    return ArmError(400, "InvalidResourceName", f"Resource name {name} is invalid. {NETWORK_NAME_RULE}")


def invalid_resource_reference(referenced: str, referencing: str) -> ArmError:
    return ArmError(
        400,
        "InvalidResourceReference",
        f"Resource {referenced} referenced by resource {referencing} was not found. Please make sure that the "
        "referenced resource exists, and that both resources are in the same region.",
        details=[],
    )


def invalid_request_format(message: str) -> ArmError:
    return ArmError(400, "InvalidRequestFormat", message, details=[])


def precondition_failed() -> ArmError:
    return ArmError(412, "PreconditionFailed", "The condition specified using HTTP conditional header(s) is not met.")


def another_operation_in_progress(operation_url: str) -> ArmError:
    return ArmError(
        409,
        "AnotherOperationInProgress",
        "Another operation on this or dependent resource is in progress. To retrieve status of the operation use "
        f"uri: {operation_url}.",
        details=[],
    )


def operation_canceled(name: str, operation_id: str, by_name: str, by_id: str) -> dict[str, Any]:
    """The `error` of an async operation that a newer write of the same resource canceled (status `Canceled`).

    Verbatim shape of a Network RP operation status quoted in radius-project/radius
    pkg/corerp/handlers/azure_containerlb.go ("Operation PutLoadBalancerOperation (…) was canceled and
    superseded by operation PutLoadBalancerOperation (…)."); the same code and message in
    iterative/terraform-provider-iterative#341 (PutVirtualNetworkOperation) and Azure/azure-cli#21156.
    """
    return {
        "code": "Canceled",
        "message": "Operation was canceled.",
        "details": [
            {
                "code": "CanceledAndSupersededDueToAnotherOperation",
                "message": f"Operation {name} ({operation_id}) was canceled and superseded by operation {by_name} "
                f"({by_id}).",
            }
        ],
    }


def referenced_resource_not_provisioned(referenced: str, referencing: str, state: str, operation: str) -> ArmError:
    """A write whose body references a resource left Failed (until that resource is PUT again successfully).

    Message as quoted in kubernetes/kubernetes#65025 (a Failed NIC, PutNicOperation),
    gardener/gardener-extension-provider-azure#2 (a Failed public IP, PutPublicIpAddressOperation) and a 400 of
    a subnet write quoting a Failed NIC ipConfiguration (terraform, "StatusCode=400").
    """
    return ArmError(
        400,
        "ReferencedResourceNotProvisioned",
        f"Cannot proceed with operation because resource {referenced} used by resource {referencing} is not in "
        f"Succeeded state. Resource is in {state} state and the last operation that updated/is updating the "
        f"resource is {operation}.",
        details=[],
    )


# Default messages of async operation errors injected by the `lro-failed` fault, by code.
OPERATION_ERROR_MESSAGES = {
    # hashicorp/terraform-provider-azurerm#70, pulumi/pulumi-azure-native#1450: Code="RetryableError"
    # Message="A retryable error occurred." (an early Azure spelling was "occured").
    "RetryableError": "A retryable error occurred.",
    "InternalServerError": "An internal error occurred in the operation.",
}


def subscription_throttled(subscription: str, principal: str, budget: str, retry_after: str) -> ArmError:
    """ARM's 429 when a token bucket is empty (throttling.py), `budget` being read, write or delete. The message is
    the token-bucket one, as an ARM read refused in Azure/ARO-HCP's CI shows it (quoted in roivaz/ARO-HCP-CIHealth's
    failure-pattern tests): "Number of 'read' requests for subscription '…' actor '<object id>' exceeded. Please try
    again after '10' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for
    additional information." (the older hourly limits said "... exceeded. Please try again after '6' seconds.",
    MicrosoftDocs/azure-docs#105248). No `details`: the captured body has none."""
    return ArmError(
        429,
        "SubscriptionRequestsThrottled",
        f"Number of '{budget}' requests for subscription '{subscription}' actor '{principal}' exceeded. "
        f"Please try again after '{retry_after}' seconds after additional tokens are available. "
        "Refer to https://aka.ms/arm-throttling for additional information.",
        headers={"Retry-After": retry_after},
    )


def internal_server_error(status: int, subscription: str, request_id: str, timestamp: str) -> ArmError:
    code = {500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}
    return ArmError(
        status,
        code.get(status, "InternalServerError"),
        f"Encountered internal server error. Diagnostic information: timestamp '{timestamp}', subscription id "
        f"'{subscription}', tracking id '{request_id}', request correlation id '{request_id}'.",
    )


def subnet_policies_enabled(pls_id: str, subnet_id: str) -> ArmError:
    return ArmError(
        400,
        "PrivateLinkServiceCannotBeCreatedInSubnetThatHasNetworkPoliciesEnabled",
        f"Private link service {pls_id} cannot be created in a subnet {subnet_id} since it has private link service "
        "network policies enabled.",
        details=[],
    )


def lb_used_by_pls(lb_id: str, pls_id: str) -> ArmError:
    return ArmError(
        400,
        "CannotDeleteLoadBalancerWithPrivateLinkService",
        f"Cannot delete load balancer {lb_id} since it is referenced by private link service {pls_id}. Please delete "
        "private link service prior to deleting load balancer.",
    )


def pls_has_connections(pls_id: str, count: int) -> ArmError:
    plural = "connection" if count == 1 else "connections"
    return ArmError(
        400,
        "PrivateLinkServiceWithPrivateEndpointConnectionsCannotBeDeleted",
        f"Private link service {pls_id} cannot be deleted since it has {count} private endpoint {plural}. Please "
        "delete all private endpoint connections before deleting the private link service.",
    )


def subnet_in_use(subnet_name: str, user_id: str) -> ArmError:
    return ArmError(
        400,
        "InUseSubnetCannotBeDeleted",
        f"Subnet {subnet_name} is in use by {user_id} and cannot be deleted. In order to delete the subnet, delete "
        "all the resources within the subnet.",
        details=[],
    )


def ip_not_in_subnet(ip: str, prefix: str) -> ArmError:
    return ArmError(
        400,
        "PrivateIPAddressNotInSubnet",
        f"Private static IP address {ip} does not belong to the range of subnet prefix {prefix}.",
        details=[],
    )


def ip_in_reserved_range(ip: str, prefix: str) -> ArmError:
    return ArmError(
        400,
        "PrivateIPAddressInReservedRange",
        f"Private static IP address {ip} falls within reserved IP range of subnet prefix {prefix}.",
        details=[],
    )


def ip_in_use(config_id: str, ip: str, holder_id: str) -> ArmError:
    return ArmError(
        400,
        "PrivateIPAddressInUse",
        f"IP configuration {config_id} is using the private IP address {ip} which is already allocated to resource "
        f"{holder_id}.",
        details=[],
    )


def subnet_full(subnet_id: str) -> ArmError:
    return ArmError(
        400,
        "SubnetIsFull",
        f"Subnet {subnet_id} with address prefix has no free IP addresses available.",
        details=[],
    )


def subnet_outside_vnet(subnet_name: str, vnet_name: str) -> ArmError:
    return ArmError(
        400,
        "NetcfgSubnetRangeOutsideVnet",
        f"Subnet '{subnet_name}' is not valid because its IP address range is outside the IP address range of "
        f"virtual network '{vnet_name}'.",
        details=[],
    )


def subnets_overlap(subnet_name: str, vnet_name: str) -> ArmError:
    return ArmError(
        400,
        "NetcfgSubnetRangesOverlap",
        f"Subnet '{subnet_name}' is not valid because its IP address range overlaps with that of an existing subnet "
        f"in virtual network '{vnet_name}'.",
        details=[],
    )


def invalid_address_prefix(prefix: str, owner_id: str) -> ArmError:
    return ArmError(
        400,
        "InvalidAddressPrefixFormat",
        f"Address prefix {prefix} of resource {owner_id} is not formatted correctly. It should follow CIDR notation, "
        "for example 10.0.0.0/24.",
        details=[],
    )


def pls_not_visible(pls_reference: str, pe_id: str) -> ArmError:
    return ArmError(
        400,
        "ThirdPartyPrivateLinkServiceProvidedDuringPrivateEndpointCreationDoesNotExistOrIsNotVisible",
        f"Third-party Private Link Service Id {pls_reference} provided during private endpoint creation {pe_id} does "
        "not exist or is not visible.",
        details=[],
    )


def connection_not_creatable_by_provider(connection_id: str) -> ArmError:
    return ArmError(
        400,
        "PrivateEndpointConnectionCannotBeCreatedByServiceProvider",
        f"Private endpoint connection {connection_id} cannot be created by service provider. Private endpoint "
        "connections are created by private endpoint owners.",
        details=[],
    )


def invalid_connection_status(status: str, connection_id: str) -> ArmError:
    return ArmError(
        400,
        "InvalidPrivateEndpointConnectionStatus",
        f"Status {status} of private endpoint connection {connection_id} is not valid; a service provider can set "
        "Approved or Rejected.",
        details=[],
    )
