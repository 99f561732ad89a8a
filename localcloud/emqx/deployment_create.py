"""`POST /public_api/v1/deployments`: create a Dedicated Flex deployment, as EMQX's Terraform provider does.

Fields and values from `emqx/terraform-provider-emqxcloud` (`internal/provider/deployment_resource.go`; the docs
page does not show them): `projectID`, `platform` (aws, gcp, azure, aliyun, tencent, huawei), `region`,
`connections`, `tps`, `deploymentName` (1-64 characters, optional), `deploymentType` (`dedicatedFlex`),
`deploymentVersion` (v5 or v6), `freeTrial`. The answer is 201 with the deployment, `starting` until the
latency profile's start time has passed; the provider then polls `GET /deployments/{id}` until `running`.
EMQX 6 still serves its broker API under `/api/v5`, so a v6 deployment gets a v5 deployment API here, at its
own host as every deployment's (`https://{deploymentID}.deployments.localhost:{port}/api/v5`, see
`deployment_api`) from the moment it is created. The Platform API's deployment JSON reports no API address
(EMQX documents none), so there is nothing else to point at that host.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from localcloud.emqx.cloud import BrokerData
from localcloud.emqx.config import Deployment, DeploymentKey
from localcloud.emqx.platform_api import RefusedError, authorize, cloud_of, deployment_json, error
from localcloud.emqx.ratelimit import Limit

# Not published; the Platform API's other changes allow a handful an hour (TLS: 6, start/stop: 1).
CREATE_LIMIT = Limit(calls=6)
PLATFORMS = {
    "aws": "AWS",
    "gcp": "Google Cloud",
    "azure": "Azure",
    "aliyun": "Alibaba Cloud",
    "tencent": "Tencent Cloud",
    "huawei": "Huawei Cloud",
}
VERSIONS = ("v5", "v6")


def _problems(body: dict[str, Any], known_projects: set[str]) -> list[str]:
    problems = []
    if body.get("projectID") not in known_projects:
        problems.append("projectID: no such project")
    if body.get("platform") not in PLATFORMS:
        problems.append(f"platform: one of {', '.join(PLATFORMS)}")
    if not isinstance(body.get("region"), str) or not body["region"]:
        problems.append("region: required")
    for name in ("connections", "tps"):
        value = body.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            problems.append(f"{name}: a positive integer")
    name = body.get("deploymentName")
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 64):
        problems.append("deploymentName: 1-64 characters")
    if body.get("deploymentType", "dedicatedFlex") != "dedicatedFlex":
        problems.append("deploymentType: dedicatedFlex")
    if body.get("deploymentVersion") not in VERSIONS:
        problems.append("deploymentVersion: v5 or v6")
    if not isinstance(body.get("freeTrial", False), bool):
        problems.append("freeTrial: a boolean")
    return problems


async def create_deployment(request: Request) -> Response:
    cloud = cloud_of(request)
    try:
        key = authorize(request, "deployments", CREATE_LIMIT)
    except RefusedError as refused:
        return refused.response
    try:
        body = await request.json()
    except ValueError:
        return error(400, "BAD_REQUEST", "The request body is not valid JSON")
    if not isinstance(body, dict):
        return error(400, "BAD_REQUEST", "The request body must be a JSON object")
    visible = {p.project_id for p in cloud.account.projects if key.sees_project(p.project_id)}
    problems = _problems(body, visible)
    if problems:
        return error(422, "UNPROCESSABLE_ENTITY", "; ".join(problems))
    deployment_id = secrets.token_hex(4)
    now = cloud.clock()
    deployment = Deployment(
        deployment_id=deployment_id,
        name=body.get("deploymentName") or f"deployment-{deployment_id}",
        version="v5",
        project_id=body["projectID"],
        api_keys=(DeploymentKey(app_id="app-" + secrets.token_hex(6), secret=secrets.token_urlsafe(24)),),
        platform=PLATFORMS[body["platform"]],
        region=body["region"],
        deployment_type="dedicatedFlex",
        connections=body["connections"],
        tps=body["tps"],
        create_at=time.strftime("%Y-%m-%d %H:%M", time.gmtime(now)),
        running_from=now + cloud.latency.scaled(cloud.latency.deployment_start_seconds),
    )
    cloud.account = cloud.account.with_deployment(deployment)
    cloud.brokers[deployment_id] = BrokerData()
    return JSONResponse(deployment_json(deployment, now), status_code=201)
