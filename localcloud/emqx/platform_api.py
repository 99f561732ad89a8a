"""The Platform API (`/public_api/v1`): deployments and projects, Basic auth, per-key rate limits.

Documented (see README): `GET /deployments` and `GET /deployments/{id}` at 60 calls per 60 minutes per key,
401 / 403 / 404 / 429. The error body is not documented; the stand-in answers `{"code", "message"}` with an
upper-snake `code`, the shape EMQX's other APIs use and the official Terraform client reads.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from localcloud.emqx.basic_auth import credentials, same_secret
from localcloud.emqx.cloud import EmqxCloud
from localcloud.emqx.config import Deployment, PlatformKey
from localcloud.emqx.ratelimit import Limit

PREFIX = "/public_api/v1"
READ_LIMIT = Limit(calls=60)


class RefusedError(Exception):
    def __init__(self, response: Response):
        super().__init__(response.status_code)
        self.response = response


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def cloud_of(request: Request) -> EmqxCloud:
    cloud: EmqxCloud = request.app.state.emqx
    return cloud


def authorize(request: Request, scope: str, limit: Limit | None) -> PlatformKey:
    """The caller's key, checked in the order the Platform API answers: 401, 403, then 429."""
    cloud = cloud_of(request)
    given = credentials(request)
    key = next((k for k in cloud.account.platform_keys if given and k.key == given[0]), None)
    if given is None or key is None or not same_secret(given[1], key.secret):
        raise RefusedError(
            error(
                401,
                "UNAUTHORIZED",
                "Invalid API key or secret",
                {"WWW-Authenticate": 'Basic realm="EMQX Platform API"'},
            )
        )
    if scope not in key.scopes:
        raise RefusedError(error(403, "FORBIDDEN", f"This API key has no permission for {scope}"))
    if limit is not None:
        bucket = f"{request.method} {request.scope['route'].path}"
        wait = cloud.limiter.admit(key.key, bucket, limit)
        if wait is not None:
            raise RefusedError(
                error(
                    429,
                    "TOO_MANY_REQUESTS",
                    f"Rate limit exceeded: {limit.calls} requests per {int(limit.window_seconds // 60)} minutes",
                    {"Retry-After": str(wait)},
                )
            )
    return key


def visible_deployment(request: Request, key: PlatformKey) -> Deployment:
    cloud = cloud_of(request)
    deployment = cloud.account.deployment(request.path_params["deployment_id"])
    if deployment is None or not key.sees_project(deployment.project_id):
        raise RefusedError(error(404, "NOT_FOUND", "Deployment not found"))
    return deployment


def _project_name(request: Request, deployment: Deployment) -> str:
    project = cloud_of(request).account.project(deployment.project_id)
    return project.name if project else ""


def deployment_json(deployment: Deployment, now: float) -> dict[str, Any]:
    return {
        "connections": deployment.connections,
        "tps": deployment.tps,
        "createAt": deployment.create_at,
        "deploymentID": deployment.deployment_id,
        "deploymentName": deployment.name,
        "deploymentType": deployment.deployment_type,
        "platform": deployment.platform,
        "region": deployment.region,
        "status": "starting" if now < deployment.running_from else deployment.status,
    }


async def list_deployments(request: Request) -> Response:
    try:
        key = authorize(request, "deployments", READ_LIMIT)
    except RefusedError as refused:
        return refused.response
    deployments = [d for d in cloud_of(request).account.deployments if key.sees_project(d.project_id)]
    now = cloud_of(request).clock()
    return JSONResponse(
        [
            {**deployment_json(d, now), "projectName": _project_name(request, d), "version": d.version}
            for d in deployments
        ]
    )


async def get_deployment(request: Request) -> Response:
    try:
        key = authorize(request, "deployments", READ_LIMIT)
        deployment = visible_deployment(request, key)
    except RefusedError as refused:
        return refused.response
    return JSONResponse(deployment_json(deployment, cloud_of(request).clock()))


async def list_projects(request: Request) -> Response:
    try:
        key = authorize(request, "projects", None)
    except RefusedError as refused:
        return refused.response
    projects = [p for p in cloud_of(request).account.projects if key.sees_project(p.project_id)]
    return JSONResponse(
        [{"projectID": p.project_id, "projectName": p.name, "description": p.description} for p in projects]
    )


routes = [
    Route(f"{PREFIX}/deployments", list_deployments, methods=["GET"]),
    Route(f"{PREFIX}/deployments/{{deployment_id}}", get_deployment, methods=["GET"]),
    Route(f"{PREFIX}/projects", list_projects, methods=["GET"]),
]
