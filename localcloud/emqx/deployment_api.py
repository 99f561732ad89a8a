"""Each deployment's API at its own host name: `{deploymentId}.deployments.localhost[:port]`.

EMQX Cloud serves a deployment's API at `https://<deployment host>:8443/api/v5` (v5 and v6) or `/api/v4`
(v4), never under the Platform API's host. `route` is the first route of the stand-in's app: a request whose
`Host` names a deployment goes to that deployment's broker API (`deployment_v5` or `deployment_v4`, by the
deployment's version, looked up at request time so deployments created through the Platform API are served
too), and never reaches the Platform API, the PrivateLink contract or the control routes. Every other path on
a deployment's host is that broker's 404; a host naming no deployment of the account is 404
`{"code": "NOT_FOUND"}`.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.routing import Host, Router
from starlette.types import Receive, Scope, Send

from localcloud.emqx import deployment_v4, deployment_v5
from localcloud.emqx.cloud import EmqxCloud
from localcloud.emqx.hosts import DEPLOYMENT_HOST_SUFFIX

# No slash redirects: EMQX's routers answer a path with a trailing slash as any other unknown path.
_V5 = Router(deployment_v5.routes, redirect_slashes=False, default=deployment_v5.not_found)
_V4 = Router(deployment_v4.routes, redirect_slashes=False, default=deployment_v4.not_found)


async def _deployment_api(scope: Scope, receive: Receive, send: Send) -> None:
    cloud: EmqxCloud = scope["app"].state.emqx
    deployment_id = scope["path_params"]["deployment_id"]
    deployment = cloud.account.deployment(deployment_id)
    if deployment is None:
        message = f"No deployment {deployment_id} in this account"
        await JSONResponse({"code": "NOT_FOUND", "message": message}, status_code=404)(scope, receive, send)
        return
    await (_V5 if deployment.version == "v5" else _V4)(scope, receive, send)


# Starlette matches the host name without its port, lower-cased; a name with more labels before the suffix
# gives an id no deployment has.
route = Host("{deployment_id}" + DEPLOYMENT_HOST_SUFFIX, app=_deployment_api, name="deployment-api")
