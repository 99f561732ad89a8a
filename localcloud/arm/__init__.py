"""Azure Resource Manager (Microsoft.Network subset) for localcloud, served over HTTPS to the real SDK.

Construction (keyword-only, plain values)::

    create_app(
        identities={"<client id>": ["/subscriptions/<sub>", "/subscriptions/<sub>/resourceGroups/<rg>"], ...},
        token_key="<HMAC key shared with localcloud.identity.create_app>",
        tenant_id="<tenant GUID>",
        state=None,            # an ArmState to share or pre-seed (resource groups...); a fresh one by default
        speed=1.0,             # LRO durations and Event Grid retry waits are the realistic ones divided by this,
                               # rate-limit buckets refill this much faster; above 1, LRO answers carry
                               # retry-after-ms instead of Retry-After
        clock=time.time,       # epoch-seconds callable; LRO progress and token expiry read it (see clock.ManualClock)
        eventgrid={"caBundle": None, "pendingConnectionEvents": False, "duplicates": 0, "shuffle": False},
        rbac=None,             # Azure RBAC for some identities: {"principals", "roles", "assignments"}
                               # (authorization.py; network_rbac() builds the app's from infra/network-role.json)
    ) -> Starlette

Serve it with TLS (`localcloud.tls`, `localcloud.serving`). Clients authenticate with bearer tokens from the
managed identity endpoint (`localcloud.identity`); each identity may touch only its scopes, and an identity under
RBAC only what its role assignments grant, with ARM's linked-access checks on PUT bodies; every request under a
subscription draws from ARM's token buckets (throttling.py: 429 SubscriptionRequestsThrottled when empty). The app
exposes `app.state.arm` (ArmState), `app.state.topic` (the Event Grid SystemTopic), `app.state.faults`,
`app.state.calls`, `app.state.rbac`, `app.state.ratelimits` (the RateLimiter).

Paths: the real Microsoft.Network ones (any api-version; case-insensitive) for resource groups, virtualNetworks
(+subnets), networkInterfaces, loadBalancers (+backendAddressPools, inboundNatRules, probes, loadBalancingRules,
frontendIPConfigurations, networkInterfaces), privateLinkServices (+privateEndpointConnections), privateEndpoints,
routeTables (+routes), networkSecurityGroups (+securityRules, defaultSecurityRules), applicationSecurityGroups,
natGateways, publicIPAddresses, serviceEndpointPolicies (+serviceEndpointPolicyDefinitions), operation status;
plus the control API under /localcloud (README.md of this package).
"""

from localcloud.arm.app import create_app
from localcloud.arm.clock import ManualClock
from localcloud.arm.state import ArmState, ResourceGroup

__all__ = ["ArmState", "ManualClock", "ResourceGroup", "create_app"]
