"""EMQX Cloud over HTTPS: the only module that imports httpx.

Three APIs, all HTTP Basic and JSON:
- the Platform API (`{platform}/deployments/{id}`), documented by EMQX; 60 calls per hour per key, so every
  call first spends from a shared budget (`spend`, injected: the store keeps it across instances);
- the PrivateLink contract of `api` mode (`{platform}/deployments/{id}/privatelinks`): this project's own,
  in the Platform API's conventions, for accounts or proxies that expose one. EMQX publishes no PrivateLink API;
- each deployment's API: v5 `POST /connectors_probe` and `GET /connectors`, v4 `POST /resources?test=true` and
  `GET /resources` — the Redis test, and what still uses an address.

Errors are mapped once into shared.errors:
    401 / 403                 → UpstreamError EmqxAuthenticationFailed / EmqxPermissionDenied (502)
    404                       → NotFoundError EmqxNotFound
    400 / 422                 → InvalidRequestError with EMQX's code
    429                       → EmqxThrottledError (503, temporary, with EMQX's Retry-After)
    5xx, timeouts, drops      → EmqxUnavailableError (502, temporary)
    budget spent              → RateBudgetExhaustedError (temporary; the next window retries)
    a refused destination     → DestinationRefusedError (502, not retried)
Messages never carry a response body whole, and every secret the call used is cut out of them.

Every connection goes through `_GuardedBackend`: the host name is resolved here, each address is checked
(`shared.hosts.refused_address`, the app's own ARM and identity endpoints), and the connection is made to the
checked address while TLS still verifies the certificate by name. Resolving once and connecting to what was
checked leaves no window for a second DNS answer to point elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from shared.errors import (
    AppError,
    DestinationRefusedError,
    EmqxThrottledError,
    EmqxUnavailableError,
    InvalidRequestError,
    NotFoundError,
    RateBudgetExhaustedError,
    UpstreamError,
    cut,
    retry_after_seconds,
)
from shared.hosts import loopback_name, refused_address
from shared.settings import Secret, Settings

Json = dict[str, Any]
SpendBudget = Callable[[str], Awaitable[bool]]
HoldBudget = Callable[[str, int], Awaitable[None]]

TIMEOUT = httpx.Timeout(20.0, connect=5.0)
PROBE_TIMEOUT = httpx.Timeout(45.0, connect=5.0)
THROTTLED_DEFAULT_SECONDS = 60


async def _resolve(host: str, port: int) -> list[str]:
    if loopback_name(host):
        return ["127.0.0.1"]
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def _host_and_port(url: str) -> tuple[str, int] | None:
    parts = httpx.URL(url)
    if not parts.host:
        return None
    return parts.host, parts.port or (443 if parts.scheme == "https" else 80)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and checks every destination before connecting to it (see the module's docstring)."""

    def __init__(self, settings: Settings) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_loopback = settings.emqx_allow_loopback
        self._own_endpoints = [target for url in settings.own_endpoints if (target := _host_and_port(url))]
        self._own_addresses: set[tuple[str, int]] | None = None

    async def _own(self) -> set[tuple[str, int]]:
        if self._own_addresses is None:
            own: set[tuple[str, int]] = set()
            for host, port in self._own_endpoints:
                with contextlib.suppress(httpcore.ConnectError):
                    own.update((address, port) for address in await _resolve(host, port))
            self._own_addresses = own
        return self._own_addresses

    async def _checked(self, host: str, port: int, seconds: float | None) -> list[str]:
        try:
            async with asyncio.timeout(seconds):
                addresses = await _resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from None
        own = await self._own()
        for address in addresses:
            reason = refused_address(address, allow_loopback=self._allow_loopback)
            if reason is None and (address, port) in own:
                reason = f"{address}:{port} is one of the app's own endpoints (ARM or the managed identity)"
            if reason:
                raise DestinationRefusedError(f"Refused to connect to {host}:{port}: {reason}.")
        return addresses

    # httpcore's interface names the parameter `timeout`.
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in await self._checked(host, port, timeout):
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as error:
                failure = error
        raise failure or httpcore.ConnectError(f"{host} has no address")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("EMQX is reached over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(
    settings: Settings, verify: ssl.SSLContext | bool, limits: httpx.Limits
) -> httpx.AsyncHTTPTransport:
    """httpx's transport with its connection pool on `_GuardedBackend`.

    httpx takes no network backend, so the pool httpx would build is built here the same way, with the backend.
    Environment proxies are not used: a proxy would resolve names past the guard.
    """
    ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)  # loaded once, for both pools
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits, trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_GuardedBackend(settings),
    )
    return transport


def redact(text: str, secrets: Iterable[Secret]) -> str:
    for secret in secrets:
        value = secret.reveal()
        if value:
            text = text.replace(value, "***")
    return text


def _error_fields(response: httpx.Response) -> tuple[str | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, response.reason_phrase
    if isinstance(body, Mapping):
        code = body.get("code")
        message = body.get("message") or body.get("msg") or response.reason_phrase
        return (str(code) if code is not None else None), str(message)
    return None, response.reason_phrase


def _retry_after(response: httpx.Response) -> int | None:
    return retry_after_seconds(response.headers.get("Retry-After"))


# Status -> (error class, code when EMQX gave none); a refusal EMQX named keeps EMQX's own code where it has one.
_REFUSALS: dict[int, tuple[type[AppError], str]] = {
    401: (UpstreamError, "EmqxAuthenticationFailed"),
    403: (UpstreamError, "EmqxPermissionDenied"),
    404: (NotFoundError, "EmqxNotFound"),
    400: (InvalidRequestError, "EmqxRejected"),
    409: (InvalidRequestError, "EmqxRejected"),
    422: (InvalidRequestError, "EmqxRejected"),
}
_FIXED_CODES = frozenset({401, 403, 404})


def map_emqx_error(response: httpx.Response, action: str, secrets: Iterable[Secret] = ()) -> AppError:
    code, message = _error_fields(response)
    text = cut(redact(f"EMQX refused to {action}: {code or response.status_code}: {message}", secrets))
    status = response.status_code
    if status == 429:
        return EmqxThrottledError(text, retry_after=_retry_after(response))
    if status >= 500:
        return EmqxUnavailableError(text, code=code or None, retry_after=_retry_after(response))
    error_class, fallback = _REFUSALS.get(status, (UpstreamError, "EmqxUnexpectedAnswer"))
    chosen = fallback if status in _FIXED_CODES else (code or fallback)
    return error_class(text, code=chosen)


def _transport_error(action: str) -> EmqxUnavailableError:
    return EmqxUnavailableError(f"EMQX did not answer while trying to {action}; it will be retried.")


def private_link_id(record: Json) -> str | None:
    """The id of a record of the PrivateLink contract (`privateLinkID`, as the Platform API spells its ids)."""
    return str(record.get("privateLinkID") or record.get("privateLinkId") or "") or None


@dataclass(frozen=True)
class ProbeResult:
    passed: bool
    latency_ms: float
    reason: str | None


@dataclass(frozen=True)
class DeploymentApi:
    """How to reach one deployment's own API (from the link; the key and secret from app settings)."""

    version: str  # "v5" or "v4"
    url: str
    key: Secret
    secret: Secret


_PROBE_ACTION = "test the Redis connection"


@dataclass(frozen=True)
class _RedisTarget:
    """The Redis server EMQX is asked to reach, and how to log in to it."""

    name: str
    server: str
    password: Secret
    username: str | None
    database: int


class Emqx:
    """One httpx.AsyncClient for every EMQX call of this process. Close with `close()`."""

    def __init__(
        self,
        settings: Settings,
        spend: SpendBudget,
        hold: HoldBudget,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self._settings = settings
        self._spend = spend
        self._hold = hold
        verify: Any = ssl.create_default_context(cafile=str(settings.tls_ca_bundle)) if settings.tls_ca_bundle else True
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
        self._http = httpx.AsyncClient(
            timeout=TIMEOUT,
            transport=transport or guarded_transport(settings, verify, limits),
            headers={"Accept": "application/json"},
        )

    async def close(self) -> None:
        await self._http.aclose()

    # -- Platform API and the PrivateLink contract ------------------------------------------------------

    def _platform(self) -> tuple[str, httpx.BasicAuth, Secret]:
        settings = self._settings
        if not (
            settings.emqx_platform_api_url and settings.emqx_platform_api_key and settings.emqx_platform_api_secret
        ):
            raise UpstreamError(
                "The EMQX Platform API is not configured (EMQX_PLATFORM_API_URL, _KEY and _SECRET).",
                code="EmqxPlatformApiNotConfigured",
            )
        secret = settings.emqx_platform_api_secret
        return (
            settings.emqx_platform_api_url,
            httpx.BasicAuth(settings.emqx_platform_api_key, secret.reveal()),
            secret,
        )

    @property
    def platform_configured(self) -> bool:
        settings = self._settings
        return bool(settings.emqx_platform_api_url and settings.emqx_platform_api_key)

    async def _platform_call(self, method: str, path: str, action: str, body: Json | None = None) -> httpx.Response:
        base, auth, secret = self._platform()
        budget_key = f"emqx-platform:{self._settings.emqx_platform_api_key}"
        if not await self._spend(budget_key):
            raise RateBudgetExhaustedError(
                f"The EMQX Platform API budget (60 calls per hour) is spent; {action} waits for the next window."
            )
        try:
            response = await self._http.request(method, f"{base}{path}", auth=auth, json=body)
        except httpx.TransportError:
            raise _transport_error(action) from None
        if response.status_code == 429:
            # Every instance stops spending until EMQX's Retry-After has passed, not only this call.
            await self._hold(budget_key, _retry_after(response) or THROTTLED_DEFAULT_SECONDS)
        if response.status_code >= 400:
            raise map_emqx_error(response, action, [secret])
        return response

    async def get_deployment(self, deployment_id: str) -> Json:
        response = await self._platform_call("GET", f"/deployments/{deployment_id}", f"read deployment {deployment_id}")
        body: Json = response.json()
        return body

    async def list_private_links(self, deployment_id: str) -> list[Json]:
        response = await self._platform_call(
            "GET", f"/deployments/{deployment_id}/privatelinks", f"list the PrivateLinks of {deployment_id}"
        )
        return list(response.json())

    async def create_private_link(self, deployment_id: str, alias: str) -> Json:
        response = await self._platform_call(
            "POST",
            f"/deployments/{deployment_id}/privatelinks",
            f"create a PrivateLink on {deployment_id}",
            {"platform": "azure", "privateLinkServiceId": alias},
        )
        body: Json = response.json()
        return body

    async def delete_private_link(self, deployment_id: str, private_link_id: str) -> None:
        try:
            await self._platform_call(
                "DELETE",
                f"/deployments/{deployment_id}/privatelinks/{private_link_id}",
                f"delete PrivateLink {private_link_id}",
            )
        except NotFoundError:
            return

    # -- a deployment's own API --------------------------------------------------------------------------

    async def _deployment_call(
        self, api: DeploymentApi, method: str, path: str, action: str, **kwargs: Any
    ) -> httpx.Response:
        auth = httpx.BasicAuth(api.key.reveal(), api.secret.reveal())
        try:
            return await self._http.request(method, f"{api.url.rstrip('/')}{path}", auth=auth, **kwargs)
        except httpx.TransportError:
            raise _transport_error(action) from None

    async def probe_redis(
        self,
        api: DeploymentApi,
        *,
        name: str,
        server: str,
        password: Secret,
        username: str | None,
        database: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> ProbeResult:
        """The guide's "Test" button: EMQX connects to Redis at `server` (the PrivateLink IP and port)."""
        target = _RedisTarget(name, server, password, username, database)
        started = clock()
        probe = self._probe_redis_v5 if api.version == "v5" else self._probe_redis_v4
        reason = await probe(api, target)
        return ProbeResult(reason is None, (clock() - started) * 1000, reason)

    async def _probe_redis_v5(self, api: DeploymentApi, target: _RedisTarget) -> str | None:
        """None when Redis answered, else why not (EMQX's TEST_FAILED message)."""
        parameters: Json = {
            "redis_type": "single",
            "server": target.server,
            "database": target.database,
            "pool_size": 1,
            "password": target.password.reveal(),
        }
        if target.username:
            parameters["username"] = target.username
        body = {"type": "redis", "name": target.name, "parameters": parameters, "ssl": {"enable": False}}
        secrets = [api.key, api.secret, target.password]
        response = await self._deployment_call(
            api, "POST", "/connectors_probe", _PROBE_ACTION, json=body, timeout=PROBE_TIMEOUT
        )
        if response.status_code == 204:
            return None
        code, message = _error_fields(response)
        if response.status_code == 400 and code == "TEST_FAILED":
            return cut(redact(message, secrets))
        raise map_emqx_error(response, _PROBE_ACTION, secrets)

    async def _probe_redis_v4(self, api: DeploymentApi, target: _RedisTarget) -> str | None:
        """None when Redis answered, else why not (the message of EMQX's non-zero code)."""
        config = {
            "server": target.server,
            "database": target.database,
            "password": target.password.reveal(),
            "pool_size": 1,
            "ssl": False,
        }
        body = {"type": "backend_redis_single", "config": config, "description": target.name}
        secrets = [api.key, api.secret, target.password]
        response = await self._deployment_call(
            api, "POST", "/resources", _PROBE_ACTION, params={"test": "true"}, json=body, timeout=PROBE_TIMEOUT
        )
        if response.status_code != 200:
            raise map_emqx_error(response, _PROBE_ACTION, secrets)
        answer = response.json()
        if answer.get("code") == 0:
            return None
        return cut(redact(str(answer.get("message", "test failed")), secrets))

    async def servers_in_use(self, api: DeploymentApi) -> list[str]:
        """Every `host:port` the deployment's connectors (v5) or resources (v4) point at."""
        secrets = [api.key, api.secret]
        action = "list the deployment's data integrations"
        path = "/connectors" if api.version == "v5" else "/resources"
        response = await self._deployment_call(api, "GET", path, action)
        if response.status_code != 200:
            raise map_emqx_error(response, action, secrets)
        payload = response.json()
        items = payload.get("data", []) if isinstance(payload, Mapping) else payload
        servers = []
        for item in items:
            where = item.get("parameters") if api.version == "v5" else item.get("config")
            server = (where or {}).get("server") or item.get("server")
            if server:
                servers.append(str(server))
        return servers
