"""PrivateLinks in both registration modes: this project's api-mode contract and the console's actions.

The api-mode contract (`/public_api/v1/deployments/{id}/privatelinks`) is this project's own, in the
Platform API's conventions; EMQX publishes no PrivateLink API. The console actions
(`/localcloud/console/privatelinks`) are what an operator does in the EMQX Cloud console, scripted.
Both act on the same records.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from localcloud.emqx.cloud import EmqxCloud
from localcloud.emqx.config import Deployment
from localcloud.emqx.platform_api import PREFIX, RefusedError, authorize, cloud_of, error, visible_deployment
from localcloud.emqx.privatelinks import FAILED, RUNNING, PrivateLink
from localcloud.emqx.ratelimit import Limit

# The TLS API's budgets, the nearest documented pattern: reads 60, changes 6 per 60 minutes per key.
READ_LIMIT = Limit(calls=60)
WRITE_LIMIT = Limit(calls=6)

# `<name>.<guid>.<region>.azure.privatelinkservice`, as Azure forms a PLS alias.
ALIAS = re.compile(
    r"^[a-z0-9][a-z0-9_.-]{0,79}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"\.[a-z0-9]+\.azure\.privatelinkservice$",
    re.IGNORECASE,
)


class InvalidRequestError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise InvalidRequestError(400, "BAD_REQUEST", "The request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise InvalidRequestError(400, "BAD_REQUEST", "The request body must be a JSON object")
    return body


def check_new(cloud: EmqxCloud, deployment: Deployment, platform: Any, alias: Any) -> str:
    """The alias to link, or InvalidRequestError (422) naming the wrong property."""
    if deployment.platform.lower() != "azure":
        raise InvalidRequestError(422, "UNPROCESSABLE_ENTITY", f"deployment {deployment.deployment_id} is not on Azure")
    if platform != "azure":
        raise InvalidRequestError(422, "UNPROCESSABLE_ENTITY", "platform: must be 'azure' for an Azure deployment")
    if not isinstance(alias, str) or not ALIAS.match(alias):
        raise InvalidRequestError(
            422,
            "UNPROCESSABLE_ENTITY",
            "privateLinkServiceId: must be a Private Link Service alias "
            "(<name>.<guid>.<region>.azure.privatelinkservice)",
        )
    if cloud.privatelinks.has_alias(deployment.deployment_id, alias):
        raise InvalidRequestError(
            422, "UNPROCESSABLE_ENTITY", "privateLinkServiceId: this deployment already links to it"
        )
    return alias


def check_deletable(cloud: EmqxCloud, link: PrivateLink) -> None:
    if link.status not in (RUNNING, FAILED):
        raise InvalidRequestError(
            422, "UNPROCESSABLE_ENTITY", f"A PrivateLink can be deleted only while running or failed, not {link.status}"
        )
    if link.ip is not None and cloud.address_in_use(link.deployment_id, link.ip):
        raise InvalidRequestError(
            422, "UNPROCESSABLE_ENTITY", "The PrivateLink is in use by a data integration; remove that first"
        )


def _invalid(exc: InvalidRequestError) -> Response:
    return error(exc.status, exc.code, exc.message)


# --- api mode ------------------------------------------------------------------------------------------


async def list_links(request: Request) -> Response:
    try:
        deployment = visible_deployment(request, authorize(request, "privatelinks", READ_LIMIT))
    except RefusedError as refused:
        return refused.response
    links = cloud_of(request).privatelinks.list(deployment.deployment_id)
    return JSONResponse([link.as_json() for link in links])


async def create_link(request: Request) -> Response:
    cloud = cloud_of(request)
    try:
        deployment = visible_deployment(request, authorize(request, "privatelinks", WRITE_LIMIT))
        body = await _json_object(request)
        alias = check_new(cloud, deployment, body.get("platform"), body.get("privateLinkServiceId"))
    except RefusedError as refused:
        return refused.response
    except InvalidRequestError as exc:
        return _invalid(exc)
    link = cloud.privatelinks.create(deployment_id=deployment.deployment_id, location=deployment.location, alias=alias)
    return JSONResponse(link.as_json(), status_code=201)


def _link_of(request: Request, deployment: Deployment) -> PrivateLink:
    link = cloud_of(request).privatelinks.get(deployment.deployment_id, request.path_params["private_link_id"])
    if link is None:
        raise RefusedError(error(404, "NOT_FOUND", "PrivateLink not found"))
    return link


async def get_link(request: Request) -> Response:
    try:
        deployment = visible_deployment(request, authorize(request, "privatelinks", READ_LIMIT))
        link = _link_of(request, deployment)
    except RefusedError as refused:
        return refused.response
    return JSONResponse(link.as_json())


async def delete_link(request: Request) -> Response:
    cloud = cloud_of(request)
    try:
        deployment = visible_deployment(request, authorize(request, "privatelinks", WRITE_LIMIT))
        link = _link_of(request, deployment)
        check_deletable(cloud, link)
    except RefusedError as refused:
        return refused.response
    except InvalidRequestError as exc:
        return _invalid(exc)
    cloud.privatelinks.delete(link)
    return Response(status_code=204)


# --- console mode (control API, no key: the operator is signed in to the console) -----------------------


async def console_create(request: Request) -> Response:
    cloud = cloud_of(request)
    try:
        body = await _json_object(request)
        deployment = cloud.account.deployment(str(body.get("deploymentId")))
        if deployment is None:
            raise InvalidRequestError(404, "NOT_FOUND", "Deployment not found")
        alias = check_new(cloud, deployment, "azure", body.get("alias"))
    except InvalidRequestError as exc:
        return _invalid(exc)
    link = cloud.privatelinks.create(deployment_id=deployment.deployment_id, location=deployment.location, alias=alias)
    return JSONResponse(link.as_json(), status_code=201)


async def console_list(request: Request) -> Response:
    cloud = cloud_of(request)
    # The "+ PrivateLink" dialog shows EMQX's subscription, to be allowed on the Private Link Service.
    return JSONResponse(
        {
            "subscriptionId": cloud.subscription_id,
            "privateLinks": [link.as_json() for link in cloud.privatelinks.list()],
        }
    )


async def console_get(request: Request) -> Response:
    link = cloud_of(request).privatelinks.find(request.path_params["private_link_id"])
    if link is None:
        return error(404, "NOT_FOUND", "PrivateLink not found")
    return JSONResponse(link.as_json())


async def console_delete(request: Request) -> Response:
    cloud = cloud_of(request)
    link = cloud.privatelinks.find(request.path_params["private_link_id"])
    if link is None:
        return error(404, "NOT_FOUND", "PrivateLink not found")
    try:
        check_deletable(cloud, link)
    except InvalidRequestError as exc:
        return _invalid(exc)
    cloud.privatelinks.delete(link)
    return Response(status_code=204)


routes = [
    Route(f"{PREFIX}/deployments/{{deployment_id}}/privatelinks", list_links, methods=["GET"]),
    Route(f"{PREFIX}/deployments/{{deployment_id}}/privatelinks", create_link, methods=["POST"]),
    Route(f"{PREFIX}/deployments/{{deployment_id}}/privatelinks/{{private_link_id}}", get_link, methods=["GET"]),
    Route(f"{PREFIX}/deployments/{{deployment_id}}/privatelinks/{{private_link_id}}", delete_link, methods=["DELETE"]),
]

console_routes = [
    Route("/localcloud/console/privatelinks", console_create, methods=["POST"]),
    Route("/localcloud/console/privatelinks", console_list, methods=["GET"]),
    Route("/localcloud/console/privatelinks/{private_link_id}", console_get, methods=["GET"]),
    Route("/localcloud/console/privatelinks/{private_link_id}", console_delete, methods=["DELETE"]),
]
