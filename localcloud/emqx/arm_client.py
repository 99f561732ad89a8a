"""EMQX's own calls to Azure: a managed-identity token, ARM REST on Microsoft.Network, the data-path lookup.

EMQX acts in its own subscription with its own identity, exactly as a real service would: it asks the
identity endpoint (App Service protocol) for a token for its client id, sends it as a bearer token, and
follows ARM's long-running operations (`Azure-AsyncOperation`, `Retry-After`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

API_VERSION = "2024-05-01"
ARM_RESOURCE = "https://management.azure.com"
_TERMINAL = frozenset({"Succeeded", "Failed", "Canceled"})


class ArmError(Exception):
    """ARM answered a request with an error; `transient` when retrying later may succeed."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def transient(self) -> bool:
        return self.status in (408, 409, 429) or self.status >= 500


@dataclass(frozen=True)
class ArmSettings:
    arm_endpoint: str
    identity_endpoint: str
    identity_header: str
    client_id: str


def _retry_after(response: httpx.Response, default: float) -> float:
    """ARM's hint in seconds: `retry-after-ms` (a sped-up ARM sends it) before `Retry-After`."""
    if "retry-after-ms" in response.headers:
        return float(response.headers["retry-after-ms"]) / 1000
    return float(response.headers.get("Retry-After", default))


def _error_from(response: httpx.Response) -> ArmError:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    return ArmError(response.status_code, error.get("code", "Unknown"), error.get("message", response.text[:200]))


class ArmClient:
    """Bearer-authenticated ARM calls, following operations at the pace ARM's retry hints set."""

    def __init__(self, settings: ArmSettings, arm_http: httpx.AsyncClient, identity_http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._arm = arm_http
        self._identity = identity_http
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    async def _bearer(self) -> str:
        async with self._token_lock:
            # Renew five minutes before expiry, as azure-identity does.
            if self._token is None or time.time() > self._token_expires - 300:
                response = await self._identity.get(
                    self._settings.identity_endpoint,
                    params={
                        "api-version": "2019-08-01",
                        "resource": ARM_RESOURCE,
                        "client_id": self._settings.client_id,
                    },
                    headers={"X-IDENTITY-HEADER": self._settings.identity_header},
                )
                if response.status_code != 200:
                    raise ArmError(response.status_code, "ManagedIdentityUnavailable", response.text[:200])
                body = response.json()
                self._token = body["access_token"]
                self._token_expires = float(body["expires_on"])
            return self._token

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        token = await self._bearer()
        url = path if path.startswith("https://") else self._settings.arm_endpoint.rstrip("/") + path
        params = None if "api-version=" in url else {"api-version": API_VERSION}
        try:
            return await self._arm.request(
                method, url, params=params, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.TransportError as error:
            raise ArmError(503, "ConnectionFailed", str(error) or type(error).__name__) from error

    async def get(self, path: str) -> dict[str, Any] | None:
        """The resource, or None when ARM says it does not exist."""
        response = await self.request("GET", path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise _error_from(response)
        return dict(response.json())

    async def put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create or replace, then follow the operation to its end; the resource as ARM shows it after."""
        response = await self.request("PUT", path, body)
        if response.status_code not in (200, 201):
            raise _error_from(response)
        await self._follow(response)
        resource = await self.get(path)
        if resource is None:
            raise ArmError(404, "ResourceNotFound", f"{path} vanished after it was created")
        return resource

    async def delete(self, path: str) -> None:
        """Delete and follow the operation; succeeds when the resource is already gone."""
        response = await self.request("DELETE", path)
        if response.status_code == 404:
            return
        if response.status_code not in (200, 202, 204):
            raise _error_from(response)
        await self._follow(response)

    async def _follow(self, response: httpx.Response) -> None:
        operation = response.headers.get("Azure-AsyncOperation")
        if not operation:
            return
        delay = _retry_after(response, 10.0)
        while True:
            await asyncio.sleep(delay)
            poll = await self.request("GET", operation)
            if poll.status_code != 200:
                raise _error_from(poll)
            status = poll.json().get("status", "InProgress")
            if status in _TERMINAL:
                if status != "Succeeded":
                    error = poll.json().get("error") or {}
                    raise ArmError(200, error.get("code", status), error.get("message", f"operation {status}"))
                return
            delay = _retry_after(poll, delay)

    async def connect(self, subscription_id: str, ip: str, port: int) -> dict[str, Any]:
        """ARM's data-path lookup (`POST /localcloud/dataplane/connect`): where `ip:port` leads from EMQX."""
        try:
            response = await self._arm.post(
                self._settings.arm_endpoint.rstrip("/") + "/localcloud/dataplane/connect",
                json={"sourceSubscriptionId": subscription_id, "ip": ip, "port": port},
            )
        except httpx.TransportError as error:
            raise ArmError(503, "ConnectionFailed", str(error) or type(error).__name__) from error
        if response.status_code != 200:
            raise _error_from(response)
        return dict(response.json())
