"""A v4 deployment's broker API (`https://{deploymentId}.deployments.localhost:{port}/api/v4`): the rule
engine's resources, for `backend_redis_single`. `localcloud.emqx.deployment_api` routes a deployment's host here.

minirest 0.3 answers HTTP 200 for every handled case with `{"code": 0[, "data"]}` or `{"code", "message"}`,
and HTTP 401 `UNAUTHORIZED` (text) to bad credentials. Texts follow `emqx/emqx` branch main-v4.4
`apps/emqx_rule_engine/src/emqx_rule_engine_api.erl` (`Bad Arguments: ~0p`, `Init resource failure!`,
`Already Exists`) and `emqx_rule_engine.erl` (`test_resource`: a temporary `__probe__:<8 hex>` resource,
`{resource_down, ResId}` when it is not alive). The Redis resource itself is closed source: with
`auto_reconnect` (default) its pool starts and the liveness check fails, without it the start fails.

Routing follows minirest 0.3 (`minirest.erl`, `minirest_handler.erl`, tag 0.3.14.1) under cowboy's
`/api/v4/[...]`: credentials are checked first, then the method and path, so an unknown one is 404
`Not found.` (text); cowboy answers any path outside `/api/v4` with an empty 404.
"""

from __future__ import annotations

import json
import secrets
from functools import cache
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from localcloud.emqx.basic_auth import credentials, same_secret
from localcloud.emqx.cloud import EmqxCloud
from localcloud.emqx.config import Deployment
from localcloud.emqx.erlang_terms import Atom, format_term
from localcloud.emqx.redis_client import Connected, RedisSettings, parse_server

BASE = "/api/v4"
RESOURCE_TYPE = "backend_redis_single"


class RejectedError(Exception):
    def __init__(self, reason: Any):
        super().__init__(reason)
        self.reason = reason


def minirest(code: int, message: str | None = None, data: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code}
    if message is not None:
        body["message"] = message
    if data is not None:
        body["data"] = data
    return JSONResponse(body)


def bad_arguments(reason: Any) -> JSONResponse:
    return minirest(400, "Bad Arguments: " + format_term(reason))


@cache
def _params_spec() -> dict[str, Any]:
    spec = json.loads(resources.files("localcloud.emqx").joinpath("backend_redis_single.params.json").read_text())
    return dict(spec["params"])


def _check_value(value: Any, spec: dict[str, Any]) -> Any:
    kind = spec["type"]
    if kind in ("string", "password") and not isinstance(value, str):
        raise RejectedError((Atom("invalid_data_type"), (Atom("string"), value)))
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise RejectedError((Atom("invalid_data_type"), (Atom("number"), (value, Atom("any")))))
    if kind == "boolean":
        if value in ("true", "false"):
            return value == "true"
        if not isinstance(value, bool):
            raise RejectedError((Atom("invalid_data_type"), (Atom("boolean"), value)))
    if kind == "file" and not isinstance(value, dict | list | str):
        raise RejectedError((Atom("invalid_data_type"), (Atom("file"), value)))
    return value


def validate_config(config: Any) -> dict[str, Any]:
    """emqx_rule_validator:validate_params against the resource type's params, defaults filled in."""
    if not isinstance(config, dict):
        raise RejectedError((Atom("invalid_data_type"), (Atom("object"), config)))
    checked = dict(config)
    for name, spec in _params_spec().items():
        if name not in config:
            if spec.get("required"):
                raise RejectedError((Atom("required_field_missing"), name))
            checked[name] = spec["default"]
        else:
            checked[name] = _check_value(config[name], spec)
    try:
        parse_server(checked["server"])
    except ValueError as exc:
        raise RejectedError((Atom("invalid_data_type"), (Atom("string"), checked["server"]))) from exc
    return checked


def redis_settings(config: dict[str, Any]) -> RedisSettings:
    host, port = parse_server(config["server"])
    return RedisSettings(host=host, port=port, database=int(config["database"]), password=config["password"])


def _cloud(request: Request) -> EmqxCloud:
    cloud: EmqxCloud = request.app.state.emqx
    return cloud


def authorize(request: Request) -> Deployment | Response:
    deployment = _cloud(request).account.deployment(request.path_params["deployment_id"])
    if deployment is None or deployment.version != "v4":
        return PlainTextResponse("Not Found", status_code=404)
    given = credentials(request)
    key = next((k for k in deployment.api_keys if given and k.app_id == given[0]), None)
    if given is None or key is None or not same_secret(given[1], key.secret):
        return PlainTextResponse(
            "UNAUTHORIZED", status_code=401, headers={"WWW-Authenticate": 'Basic Realm="minirest-server"'}
        )
    return deployment


async def _alive(cloud: EmqxCloud, deployment: Deployment, config: dict[str, Any]) -> bool:
    outcome = await cloud.datapath.check_redis(deployment.deployment_id, redis_settings(config))
    return isinstance(outcome, Connected)


async def create_resource(request: Request) -> Response:
    cloud = _cloud(request)
    deployment = authorize(request)
    if isinstance(deployment, Response):
        return deployment
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return bad_arguments(Atom("invalid_json"))
    if not isinstance(body, dict):
        return bad_arguments(Atom("invalid_json"))
    # minirest merges query and body parameters; `test` may come from either.
    testing = str(request.query_params.get("test", body.get("test", ""))).lower() == "true"
    if body.get("type") != RESOURCE_TYPE:
        return bad_arguments((Atom("resource_type_not_found"), str(body.get("type", ""))))
    try:
        config = validate_config(body.get("config", {}))
    except RejectedError as rejected:
        return bad_arguments(rejected.reason)
    stored = cloud.brokers[deployment.deployment_id].resources
    if testing:
        if await _alive(cloud, deployment, config):
            return minirest(0)
        if not config["auto_reconnect"]:
            return minirest(500, "Init resource failure!")
        return bad_arguments((Atom("resource_down"), "__probe__:" + secrets.token_hex(4)))
    resource_id = body.get("id") or "resource:" + secrets.token_hex(4)
    if resource_id in stored:
        return minirest(400, "Already Exists")
    resource = {
        "id": resource_id,
        "type": RESOURCE_TYPE,
        "config": config,
        "description": body.get("description", ""),
    }
    stored[resource_id] = resource
    return minirest(0, data=resource)


async def list_resources(request: Request) -> Response:
    cloud = _cloud(request)
    deployment = authorize(request)
    if isinstance(deployment, Response):
        return deployment
    resources_ = cloud.brokers[deployment.deployment_id].resources.values()
    return minirest(0, data=[{**r, "status": await _alive(cloud, deployment, r["config"])} for r in resources_])


async def not_routed(request: Request) -> Response:
    """A method and path under `/api/v4` that minirest has no handler for (after the credentials check)."""
    deployment = authorize(request)
    if isinstance(deployment, Response):
        return deployment
    return PlainTextResponse("Not found.", status_code=404)


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """A path outside `/api/v4`: cowboy's router has no route, so an empty 404."""
    await Response(status_code=404)(scope, receive, send)


ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

# The last two match every method, so a known path asked with another method is minirest's 404, not a 405.
routes = [
    Route(f"{BASE}/resources", create_resource, methods=["POST"]),
    Route(f"{BASE}/resources", list_resources, methods=["GET"]),
    Route(BASE, not_routed, methods=ANY_METHOD),
    Route(f"{BASE}/{{path:path}}", not_routed, methods=ANY_METHOD),
]
