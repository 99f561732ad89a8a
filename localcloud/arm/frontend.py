"""The ARM front door: every request under /subscriptions passes here.

Order per request: finish due operations; authenticate the bearer token; take a token from the caller's rate-limit
buckets (throttling.py: 429 SubscriptionRequestsThrottled when empty); record the call; apply an injected fault;
require api-version; route; authorize the caller's identity for the scope; run; answer with ARM's headers
(x-ms-request-id, echoed x-ms-correlation-request-id, the remaining tokens of the request's kind).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from localcloud.arm import errors
from localcloud.arm.authorization import Rbac
from localcloud.arm.calls import CallLog, call_kind
from localcloud.arm.protocol import Context, Reply, Runtime
from localcloud.arm.router import Route, Router
from localcloud.arm.throttling import RateLimiter, Verdict
from localcloud.faults import Fault, FaultBook
from localcloud.identity import ManagedIdentity, TokenAuthority, TokenError
from localcloud.serving import drop_connection

REGION = "WESTEUROPE"


class DroppedError(Exception):
    """The connection was closed without an answer (the `drop` fault)."""


class ArmFrontend:
    def __init__(
        self,
        *,
        rt: Runtime,
        router: Router,
        authority: TokenAuthority,
        identities: dict[str, ManagedIdentity],
        faults: FaultBook,
        calls: CallLog,
        rbac: Rbac | None = None,
        limiter: RateLimiter | None = None,
    ):
        self.rt = rt
        self.router = router
        self.authority = authority
        self.identities = identities
        self.faults = faults
        self.calls = calls
        self.rbac = rbac
        self.limiter = limiter if limiter is not None else RateLimiter(rt.clock, rt.speed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.handle(request, receive)
        except DroppedError:
            return
        await response(scope, receive, send)

    async def handle(self, request: Request, receive: Receive) -> Response:
        self.rt.state.settle(self.rt.clock())
        method, path = request.method, request.url.path
        request_id = str(uuid.uuid4())
        correlation_id = request.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4())
        identity, claims, auth_error = self._authenticate(request)
        subscription = _subscription_of(path)
        # Every authenticated request under a subscription draws from its principal's and its subscription's
        # buckets; a refused one is answered 429 before anything else (an armed fault stays armed for the retry).
        verdict: Verdict | None = None
        if identity is not None and subscription:
            verdict = self.limiter.take(subscription, identity.client_id, identity.principal_id, method)
        throttled = verdict is not None and verdict.retry_after is not None
        fault = None if throttled else self.faults.take(method, path)
        entry = self.calls.record(
            method,
            path,
            call_kind(method, path),
            identity.client_id if identity else None,
            fault.kind if fault else None,
        )
        try:
            if throttled:
                assert identity is not None and verdict is not None
                raise errors.subscription_throttled(
                    subscription, identity.principal_id, verdict.kind.removesuffix("s"), str(verdict.retry_after)
                )
            if fault is not None:
                await self._apply_fault(
                    fault,
                    method=method,
                    subscription=subscription,
                    identity=identity,
                    request_id=request_id,
                    receive=receive,
                )
            if auth_error is not None:
                raise auth_error
            assert identity is not None
            api_version = request.query_params.get("api-version")
            if not api_version:
                raise errors.missing_api_version()
            route = self.router.route(method, path)
            self._authorize(identity, route)
            body = await _json_body(request) if method in ("PUT", "POST", "PATCH") else None
            if method == "PUT" and self.rbac is not None and self.rbac.enforces(identity):
                self.rbac.authorize_links(identity, route.action, route.scope, body)
            ctx = Context(
                rt=self.rt,
                identity=identity,
                claims=claims,
                base_url=f"{request.url.scheme}://{request.url.netloc}",
                api_version=api_version,
                method=method,
                url=str(request.url),
                headers=request.headers,
                request_id=request_id,
                correlation_id=correlation_id,
                client_ip=request.client.host if request.client else "127.0.0.1",
                lro_failure=_failure(fault) if fault is not None and fault.kind == "lro-failed" else None,
            )
            reply = route.run(ctx, body)
        except errors.ArmError as error:
            reply = Reply(error.status, error.body(), error.headers)
        entry["status"] = reply.status
        if reply.status == 429:
            entry["retryAfter"] = (reply.headers or {}).get("Retry-After")
        headers = {
            "Cache-Control": "no-cache",
            "Pragma": "no-cache",
            "Expires": "-1",
            "x-ms-request-id": request_id,
            "x-ms-correlation-request-id": correlation_id,
            "x-ms-routing-request-id": f"{REGION}:{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}:{request_id}",
            "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
            "X-Content-Type-Options": "nosniff",
        }
        if verdict is not None:
            headers.update(verdict.headers)
        headers.update(reply.headers)
        if reply.body is None or method == "HEAD":
            return Response(status_code=reply.status, headers=headers)
        return Response(
            json.dumps(reply.body),
            status_code=reply.status,
            headers=headers,
            media_type="application/json; charset=utf-8",
        )

    def _authenticate(self, request: Request) -> tuple[ManagedIdentity | None, dict[str, Any], errors.ArmError | None]:
        header = request.headers.get("authorization")
        if not header:
            return None, {}, _challenge(errors.authentication_missing(), self.authority.tenant_id)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, {}, _challenge(errors.authentication_malformed(), self.authority.tenant_id)
        try:
            claims = self.authority.verify(token.strip())
        except TokenError as exc:
            return None, {}, _challenge(errors.ArmError(401, exc.code, exc.message), self.authority.tenant_id)
        identity = self.identities.get(str(claims.get("appid", "")).lower())
        if identity is None:
            return (
                None,
                {},
                _challenge(
                    errors.ArmError(401, "InvalidAuthenticationToken", "The access token is invalid."),
                    self.authority.tenant_id,
                ),
            )
        return identity, claims, None

    def _authorize(self, identity: ManagedIdentity, route: Route) -> None:
        if self.rbac is not None and self.rbac.enforces(identity):
            subscription = route.subscription if route.subscription_wide else None
            self.rbac.authorize(identity, route.action, route.scope, subscription=subscription)
        else:
            _authorize(identity, route)

    async def _apply_fault(
        self,
        fault: Fault,
        *,
        method: str,
        subscription: str,
        identity: ManagedIdentity | None,
        request_id: str,
        receive: Receive,
    ) -> None:
        if fault.kind == "drop":
            await drop_connection(receive)
            raise DroppedError
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay_seconds)
        elif fault.kind == "throttle":
            budget = {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(method, "write")
            retry_after = f"{fault.retry_after:g}"
            error = errors.subscription_throttled(
                subscription, identity.principal_id if identity else "", budget, retry_after
            )
            if fault.status != 429:
                error.status = fault.status
            raise error
        elif fault.kind == "status":
            if fault.status >= 500:
                stamp = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
                error = errors.internal_server_error(fault.status, subscription, request_id, stamp)
            else:
                error = errors.ArmError(
                    fault.status,
                    fault.code or "BadRequest",
                    fault.message or "The request was refused by an injected fault.",
                )
            if fault.code:
                error.code = fault.code
            if fault.message:
                error.message = fault.message
            raise error


def _challenge(error: errors.ArmError, tenant_id: str) -> errors.ArmError:
    error.headers["WWW-Authenticate"] = (
        f'Bearer authorization_uri="https://login.windows.net/{tenant_id}", error="invalid_token", '
        f'error_description="{error.message}"'
    )
    return error


def _authorize(identity: ManagedIdentity, route: Route) -> None:
    allowed = (
        identity.has_subscription(route.subscription) if route.subscription_wide else identity.may_touch(route.scope)
    )
    if not allowed:
        raise errors.authorization_failed(identity.client_id, identity.principal_id, route.action, route.scope)


def _subscription_of(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return parts[1] if len(parts) >= 2 and parts[0].lower() == "subscriptions" else ""


def _failure(fault: Fault) -> dict[str, Any]:
    """The `error` the operation an `lro-failed` fault hits ends with (`code` "Canceled": ends Canceled instead,
    superseded by a write of the same request that completes in its place; see ArmState.settle)."""
    code = fault.code or "InternalServerError"
    return {
        "code": code,
        "message": fault.message or errors.OPERATION_ERROR_MESSAGES.get(code, "The operation failed."),
        "details": [],
    }


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise errors.ArmError(
            400, "InvalidRequestContent", f"The request content was invalid and could not be deserialized: '{exc}'."
        ) from exc
