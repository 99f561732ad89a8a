"""A v5 deployment's broker API (`https://{deploymentId}.deployments.localhost:{port}/api/v5`): connectors
and the connector probe, for Redis. `localcloud.emqx.deployment_api` routes a deployment's host here.

Shapes and words follow EMQX (`emqx/emqx` master 50e04386): `emqx_connector_api.erl` (routes, 204 /
400 `TEST_FAILED` / `ALREADY_EXISTS` / 404 texts), `emqx_dashboard.erl` (401 `BAD_API_KEY_OR_SECRET`,
403 `UNAUTHORIZED_ROLE`), `emqx_bridge_redis_connector.erl` (an AUTH failure is reported as the
Redis reply itself), `emqx_resource_pool.erl` (`{start_pool_failed, ResId, Reason}`), and
`emqx_utils:readable_error_msg/1` for the message text; any other path on the host is
`emqx_dashboard_not_found.erl`'s 404.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from localcloud.emqx.basic_auth import credentials, same_secret
from localcloud.emqx.cloud import EmqxCloud
from localcloud.emqx.config import Deployment
from localcloud.emqx.erlang_terms import Atom, readable_error_msg
from localcloud.emqx.redis_client import (
    Connected,
    PingFailed,
    RedisOutcome,
    RedisSettings,
    StartFailed,
    parse_server,
)

BASE = "/api/v5"
NODE = "emqx@localhost"
REDACTED = "******"
NOT_FOUND_JSON = b'{"code": "NOT_FOUND", "message": "Request Path Not Found"}'
NOT_FOUND_HTML = b"<html><head><title>404 - NOT FOUND</title></head><body><h1>404 - NOT FOUND</h1></body></html>"
NAME = re.compile(r"^[0-9a-zA-Z][-0-9a-zA-Z_]*$")
API_KEY_NOT_ALLOW_MSG = "This API Key don't have permission to access this resource"
RESOURCE_OPTS_DEFAULTS = {
    "health_check_interval": "15s",
    "health_check_timeout": "60s",
    "start_after_created": True,
    "start_timeout": "5s",
}


class EarlyAnswerError(Exception):
    def __init__(self, response: Response):
        super().__init__(response.status_code)
        self.response = response


def emqx_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(resources.files("localcloud.emqx").joinpath("redis_connector.schema.json").read_text())
    return Draft202012Validator(schema)


def _validation_message(path: str, reason: str, value: Any) -> str:
    # EMQX encodes the hocon error compactly (emqx_utils_json).
    return json.dumps(
        {"kind": "validation_error", "path": path, "reason": reason, "value": value}, separators=(",", ":")
    )


def check_body(body: Any) -> dict[str, Any]:
    """The connector body, or a 400 BAD_REQUEST as the broker's schema check gives it."""
    if not isinstance(body, dict):
        raise EarlyAnswerError(emqx_error(400, "BAD_REQUEST", _validation_message("", "not an object", body)))
    errors = sorted(_validator().iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        path = ".".join(["connector", *(str(part) for part in first.absolute_path)])
        raise EarlyAnswerError(emqx_error(400, "BAD_REQUEST", _validation_message(path, first.message, first.instance)))
    try:
        parse_server(body["parameters"]["server"])
    except ValueError as exc:
        path = "connector.parameters.server"
        raise EarlyAnswerError(
            emqx_error(400, "BAD_REQUEST", _validation_message(path, str(exc), body["parameters"]["server"]))
        ) from exc
    return body


def with_defaults(body: dict[str, Any]) -> dict[str, Any]:
    parameters = {"redis_type": "single", "database": 0, "pool_size": 8, **body["parameters"]}
    return {
        "type": "redis",
        "name": body["name"],
        "enable": body.get("enable", True),
        "description": body.get("description", ""),
        **({"tags": body["tags"]} if "tags" in body else {}),
        "parameters": parameters,
        "ssl": {"enable": False, **body.get("ssl", {})},
        "resource_opts": {**RESOURCE_OPTS_DEFAULTS, **body.get("resource_opts", {})},
    }


def check_bridge_body(body: Any) -> dict[str, Any]:
    """A v1 `redis_single` bridge (`name`, `server`, `redis_type`, `command_template` required) as a connector."""
    if not isinstance(body, dict):
        raise EarlyAnswerError(emqx_error(400, "BAD_REQUEST", _validation_message("", "not an object", body)))
    for field_name in ("type", "name", "server", "redis_type", "command_template"):
        if field_name not in body:
            path = f"bridge.{field_name}"
            raise EarlyAnswerError(emqx_error(400, "BAD_REQUEST", _validation_message(path, "required_field", None)))
    template = body["command_template"]
    if not isinstance(template, list) or not template or not all(isinstance(t, str) for t in template):
        message = _validation_message("bridge.command_template", "must be a non-empty list of strings", template)
        raise EarlyAnswerError(emqx_error(400, "BAD_REQUEST", message))
    parameters = {
        key: body[key]
        for key in ("server", "redis_type", "database", "pool_size", "username", "password")
        if key in body
    }
    return with_defaults(check_body({"type": "redis", "name": body["name"], "parameters": parameters}))


def redis_settings(connector: dict[str, Any]) -> RedisSettings:
    parameters = connector["parameters"]
    host, port = parse_server(parameters["server"])
    return RedisSettings(
        host=host,
        port=port,
        database=int(parameters.get("database", 0)),
        username=parameters.get("username") or None,
        password=parameters.get("password", ""),
    )


def failure_reason(outcome: RedisOutcome, resource_id: str) -> Any:
    """The reason EMQX keeps for a failed start or health check (None when connected)."""
    if isinstance(outcome, Connected):
        return None
    if isinstance(outcome, StartFailed):
        if outcome.kind == "authentication_error":
            return (Atom("unhealthy_target"), outcome.details[Atom("reason")])
        return (Atom("start_pool_failed"), resource_id, outcome.details)
    if isinstance(outcome, PingFailed) and outcome.error[1] == "NOAUTH Authentication required.":
        return (Atom("unhealthy_target"), outcome.error)
    return outcome.error


def probe_message(reason: Any) -> str:
    """`/connectors_probe` hands `Message` of `{unhealthy_target, Message}` on, any other reason whole."""
    if isinstance(reason, tuple) and reason and reason[0] == Atom("unhealthy_target"):
        return readable_error_msg(reason[1])
    return readable_error_msg(reason)


def _probe_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "PROBE_" + secrets.choice(string.ascii_letters) + "".join(secrets.choice(alphabet) for _ in range(7))


def redact(connector: dict[str, Any]) -> dict[str, Any]:
    parameters = dict(connector["parameters"])
    if "password" in parameters:
        parameters["password"] = REDACTED
    return {**connector, "parameters": parameters}


# --- request plumbing ----------------------------------------------------------------------------------


def _cloud(request: Request) -> EmqxCloud:
    cloud: EmqxCloud = request.app.state.emqx
    return cloud


def authorize(request: Request, path_template: str) -> Deployment:
    deployment = _cloud(request).account.deployment(request.path_params["deployment_id"])
    if deployment is None or deployment.version != "v5":
        raise EarlyAnswerError(emqx_error(404, "NOT_FOUND", "Not Found"))
    realm = {"WWW-Authenticate": 'Basic Realm="emqx-dashboard"'}
    given = credentials(request)
    if given is None:
        raise EarlyAnswerError(
            emqx_error(
                401,
                "AUTHORIZATION_HEADER_ERROR",
                "Missing authorization header. Use Basic auth with API key/secret, "
                "or Bearer token from POST /api/v5/login.",
                realm,
            )
        )
    key = next((k for k in deployment.api_keys if k.app_id == given[0]), None)
    if key is None or not same_secret(given[1], key.secret):
        raise EarlyAnswerError(emqx_error(401, "BAD_API_KEY_OR_SECRET", "Check api_key/api_secret", realm))
    if not key.allows(path_template, request.method):
        raise EarlyAnswerError(emqx_error(403, "UNAUTHORIZED_ROLE", API_KEY_NOT_ALLOW_MSG))
    return deployment


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise EarlyAnswerError(emqx_error(400, "BAD_REQUEST", "Invalid JSON body")) from exc


async def _status(cloud: EmqxCloud, deployment: Deployment, connector: dict[str, Any]) -> dict[str, Any]:
    """The connector as GET shows it: its config (redacted) with a live status from its health check."""
    outcome = await cloud.datapath.check_redis(deployment.deployment_id, redis_settings(connector))
    reason = failure_reason(outcome, f"connector:redis:{connector['name']}")
    status = "connected" if reason is None else "disconnected"
    node_status: dict[str, Any] = {"node": NODE, "status": status}
    info = {**redact(connector), "status": status, "node_status": [node_status], "actions": [], "sources": []}
    if reason is not None:
        info["status_reason"] = node_status["status_reason"] = readable_error_msg(reason)
    return info


def _connector_id(request: Request) -> tuple[str, str]:
    connector_id = request.path_params["connector_id"]
    parts = connector_id.split(":")
    if len(parts) != 2:
        raise EarlyAnswerError(
            emqx_error(
                404,
                "NOT_FOUND",
                f"Invalid connector ID, should be of pattern {{type}}:{{name}}, but got: {connector_id}",
            )
        )
    return parts[0], parts[1]


def _not_found(kind: str, name: str) -> Response:
    return emqx_error(
        404, "NOT_FOUND", f"Connector lookup failed: connector named '{name}' of type {kind} does not exist."
    )


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """Any path the dashboard has no route for: 404, worded by the request's Accept (`emqx_dashboard_not_found`)."""
    accept = Headers(scope=scope).get("accept", "text/html")
    if accept.startswith("application/json"):
        response = Response(NOT_FOUND_JSON, status_code=404, media_type="application/json")
    elif accept.startswith("text/plain"):
        response = Response(b"404 - NOT FOUND", status_code=404, media_type="text/plain")
    else:
        response = Response(NOT_FOUND_HTML, status_code=404, media_type="text/html")
    await response(scope, receive, send)


# --- routes --------------------------------------------------------------------------------------------


async def _probe(cloud: EmqxCloud, deployment: Deployment, connector: dict[str, Any], kind: str) -> Response:
    existing = cloud.brokers[deployment.deployment_id].connectors.get(connector["name"])
    if connector["parameters"].get("password") == REDACTED and existing is not None:
        connector["parameters"]["password"] = existing["parameters"].get("password", "")
    outcome = await cloud.datapath.check_redis(deployment.deployment_id, redis_settings(connector))
    reason = failure_reason(outcome, f"{_probe_id()}_{kind}:dryrun")
    if reason is None:
        return Response(status_code=204)
    return emqx_error(400, "TEST_FAILED", probe_message(reason))


async def connectors_probe(request: Request) -> Response:
    try:
        deployment = authorize(request, "/connectors_probe")
        body = check_body(await _body(request))
    except EarlyAnswerError as answer:
        return answer.response
    return await _probe(_cloud(request), deployment, with_defaults(body), "redis")


async def bridges_probe(request: Request) -> Response:
    """The 5.x v1-bridge probe (removed in 6.0): a flat `redis_single` bridge, tested the same way."""
    try:
        deployment = authorize(request, "/bridges_probe")
        connector = check_bridge_body(await _body(request))
    except EarlyAnswerError as answer:
        return answer.response
    return await _probe(_cloud(request), deployment, connector, "redis_single")


async def list_connectors(request: Request) -> Response:
    cloud = _cloud(request)
    try:
        deployment = authorize(request, "/connectors")
    except EarlyAnswerError as answer:
        return answer.response
    connectors = cloud.brokers[deployment.deployment_id].connectors.values()
    return JSONResponse([await _status(cloud, deployment, c) for c in connectors])


async def create_connector(request: Request) -> Response:
    cloud = _cloud(request)
    try:
        deployment = authorize(request, "/connectors")
        body = check_body(await _body(request))
    except EarlyAnswerError as answer:
        return answer.response
    if not NAME.match(body["name"]) or len(body["name"]) >= 255:
        reason = (
            "Invalid name format. The name must begin with a letter or number (0-9, a-z, A-Z) and can only "
            f"include underscores and hyphens as non-initial characters. Got: {body['name']}"
        )
        return emqx_error(
            400, "BAD_REQUEST", json.dumps({"kind": "validation_error", "reason": reason}, separators=(",", ":"))
        )
    connectors = cloud.brokers[deployment.deployment_id].connectors
    if body["name"] in connectors:
        return emqx_error(400, "ALREADY_EXISTS", "connector already exists")
    connectors[body["name"]] = with_defaults(body)
    return JSONResponse(await _status(cloud, deployment, connectors[body["name"]]), status_code=201)


async def get_connector(request: Request) -> Response:
    cloud = _cloud(request)
    try:
        deployment = authorize(request, "/connectors/:id")
        kind, name = _connector_id(request)
    except EarlyAnswerError as answer:
        return answer.response
    connector = cloud.brokers[deployment.deployment_id].connectors.get(name)
    if kind != "redis" or connector is None:
        return _not_found(kind, name)
    return JSONResponse(await _status(cloud, deployment, connector))


async def delete_connector(request: Request) -> Response:
    cloud = _cloud(request)
    try:
        deployment = authorize(request, "/connectors/:id")
        kind, name = _connector_id(request)
    except EarlyAnswerError as answer:
        return answer.response
    connectors = cloud.brokers[deployment.deployment_id].connectors
    if kind != "redis" or name not in connectors:
        return _not_found(kind, name)
    del connectors[name]
    return Response(status_code=204)


routes = [
    Route(f"{BASE}/connectors_probe", connectors_probe, methods=["POST"]),
    Route(f"{BASE}/bridges_probe", bridges_probe, methods=["POST"]),
    Route(f"{BASE}/connectors", list_connectors, methods=["GET"]),
    Route(f"{BASE}/connectors", create_connector, methods=["POST"]),
    Route(f"{BASE}/connectors/{{connector_id}}", get_connector, methods=["GET"]),
    Route(f"{BASE}/connectors/{{connector_id}}", delete_connector, methods=["DELETE"]),
]
