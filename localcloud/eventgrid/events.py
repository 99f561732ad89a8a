"""EventGridEvent-schema bodies: resource events of the subscription / resource group system topics, and the
subscription validation event (shapes of tests/fixtures/azure/eventgrid/).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

# Built-in role definition ids: what the authorization evidence names for the writes localcloud's identities do.
_ROLE_DEFINITIONS = {
    "Microsoft.Network": ("Network Contributor", "4d97b98b1d4f4787a291c67834d212e7"),
    "Microsoft.Resources": ("Contributor", "b24988ac618042a0ab8820f7382dd24c"),
}
_CLAIM_URIS = {
    "oid": "http://schemas.microsoft.com/identity/claims/objectidentifier",
    "tid": "http://schemas.microsoft.com/identity/claims/tenantid",
    "sub": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
}


def event_time(epoch: float) -> str:
    """ISO 8601 with seven fractional digits and Z, as Event Grid writes eventTime."""
    whole = int(epoch)
    fraction = round((epoch - whole) * 10**7)
    if fraction == 10**7:
        whole, fraction = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{fraction:07d}Z"


def event_claims(token_claims: dict[str, Any]) -> dict[str, Any]:
    """The token's claims as ARM puts them in events: numbers as strings, well-known claims under their URIs."""
    claims: dict[str, Any] = {}
    for name, value in token_claims.items():
        claims[_CLAIM_URIS.get(name, name)] = str(value)
    return claims


def resource_event(
    *,
    event_type: str,
    topic: str,
    resource_uri: str,
    operation_name: str,
    resource_provider: str,
    subscription_id: str,
    tenant_id: str,
    claims: dict[str, Any],
    correlation_id: str,
    principal_id: str,
    role_scope: str,
    http_request: dict[str, str] | None,
    occurred_at: str,
) -> dict[str, Any]:
    role, role_definition = _ROLE_DEFINITIONS.get(resource_provider, _ROLE_DEFINITIONS["Microsoft.Resources"])
    data: dict[str, Any] = {
        "authorization": {
            "scope": resource_uri,
            "action": operation_name,
            "evidence": {
                "role": role,
                "roleAssignmentScope": role_scope,
                "roleAssignmentId": uuid.uuid5(uuid.NAMESPACE_URL, role_scope + principal_id).hex,
                "roleDefinitionId": role_definition,
                "principalId": principal_id.replace("-", ""),
                "principalType": "ServicePrincipal",
            },
        },
        "claims": event_claims(claims),
        "correlationId": correlation_id,
    }
    if http_request is not None:
        data["httpRequest"] = http_request
    data.update(
        {
            "resourceProvider": resource_provider,
            "resourceUri": resource_uri,
            "operationName": operation_name,
            "status": "Succeeded",
            "subscriptionId": subscription_id,
            "tenantId": tenant_id,
        }
    )
    return {
        "subject": resource_uri,
        "eventType": event_type,
        "eventTime": occurred_at,
        "id": str(uuid.uuid4()),
        "data": data,
        "dataVersion": "2",
        "metadataVersion": "1",
        "topic": topic,
    }


def validation_event(*, topic: str, validation_code: str, validation_url: str, occurred_at: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "topic": topic,
        "subject": "",
        "data": {"validationCode": validation_code, "validationUrl": validation_url},
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": occurred_at,
        "metadataVersion": "1",
        "dataVersion": "1",
    }
