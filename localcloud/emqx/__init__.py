"""EMQX Cloud stand-in: Platform API, this project's PrivateLink contract, deployment APIs v5 and v4.

One HTTPS server (serve it with `localcloud.tls` + `localcloud.serving`) holds every API of one account:

    {base}/public_api/v1/...                               Platform API + the api-mode PrivateLink contract
    {base}/deployments-api/{deploymentId}/api/v5/...       a v5 deployment's broker API
    {base}/deployments-api/{deploymentId}/api/...          a v4 deployment's broker API
    {base}/localcloud/...                                  control: console actions, faults, calls, clock

EMQX reaches Azure only over the wire, as a real service: it takes tokens for its own managed identity from
the identity endpoint and calls the ARM stand-in (its private endpoints; `POST /localcloud/dataplane/connect`
to follow an address to the real Redis). README.md beside this file documents every route.

Construction (keyword-only, plain values)::

    from localcloud.emqx import create_app, default_account, endpoint_entries

    account = default_account()      # or build Project / PlatformKey / Deployment / DeploymentKey yourself
    app = create_app(
        arm_endpoint="https://127.0.0.1:<arm port>",
        identity_endpoint="http://127.0.0.1:<identity port>/msi/token",
        identity_header="<X-IDENTITY-HEADER value>",
        emqx_subscription_id="<EMQX's Azure subscription>",
        emqx_client_id="<client id of EMQX's identity, scoped to that subscription>",
        ca_bundle=Path("<CA bundle that issued ARM's certificate>"),
        platform_keys=account.platform_keys,
        deployments=account.deployments,
        projects=account.projects,
        speed=1.0,                   # 1 = realistic (LatencyProfile); every duration is divided by it
        clock=time.time,             # epoch-seconds callable; POST /localcloud/clock adds to it
    ) -> Starlette                   # app.state.emqx is the EmqxCloud state (records, traffic, clock)
    endpoint_entries(base_url, account) -> dict   # the `emqx` section of endpoints.json
"""

from localcloud.emqx.app import create_app
from localcloud.emqx.config import Deployment, DeploymentKey, PlatformKey, Project
from localcloud.emqx.defaults import default_account, endpoint_entries

__all__ = [
    "Deployment",
    "DeploymentKey",
    "PlatformKey",
    "Project",
    "create_app",
    "default_account",
    "endpoint_entries",
]
