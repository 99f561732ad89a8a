"""EMQX Cloud stand-in: Platform API, this project's PrivateLink contract, deployment APIs v5 and v4.

One HTTPS server (serve it with `localcloud.tls` + `localcloud.serving`) holds every API of one account. As in
EMQX Cloud, each deployment's API is at the deployment's own host name (by `Host` header, on the same port):

    {base}/public_api/v1/...                               Platform API + the api-mode PrivateLink contract
    {base}/localcloud/...                                  control: console actions, faults, calls, clock
    https://{deploymentId}.deployments.localhost:{port}/api/v5/...    a v5 (or v6) deployment's broker API
    https://{deploymentId}.deployments.localhost:{port}/api/v4/...    a v4 deployment's broker API

`{base}` is `https://127.0.0.1:{port}`. Names under `.localhost` are loopback (RFC 6761 §6.3) and the server
certificate covers `*.deployments.localhost`; a client whose resolver does not know them sends with
`direct(url)` (to 127.0.0.1 with that `Host` and TLS server name). `localcloud.emqx.hosts` has the helpers.

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
    deployment_api_hosts(base_url) -> str         # "*.deployments.localhost:{port}", the operator allow-list entry
    direct(url) -> (url, headers, extensions)     # send to a deployment API URL without resolving its name
"""

from localcloud.emqx.app import create_app
from localcloud.emqx.config import Deployment, DeploymentKey, PlatformKey, Project
from localcloud.emqx.defaults import default_account, endpoint_entries
from localcloud.emqx.hosts import DEPLOYMENT_HOST_SUFFIX, deployment_api_hosts, direct

__all__ = [
    "DEPLOYMENT_HOST_SUFFIX",
    "Deployment",
    "DeploymentKey",
    "PlatformKey",
    "Project",
    "create_app",
    "default_account",
    "deployment_api_hosts",
    "direct",
    "endpoint_entries",
]
