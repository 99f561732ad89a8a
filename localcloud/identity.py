"""The managed identity endpoint of App Service / Azure Functions, and the tokens it issues.

Protocol (as App Service serves it on `IDENTITY_ENDPOINT`, plain HTTP on loopback)::

    GET {endpoint}?api-version=2019-08-01&resource=<audience>[&client_id=<id>|&object_id=<id>]
    X-IDENTITY-HEADER: <header>
    -> 200 {"access_token", "expires_on" (epoch seconds, string), "resource", "token_type": "Bearer", "client_id"}

Tokens are HS256 JWTs signed with a key shared with the ARM stand-in and the Event Grid custom topic, which verify them
(`TokenAuthority`): any `resource` is issued (as Entra ID issues a managed identity a token for any resource), and each
verifier accepts only its own audience (ARM's, or Event Grid's `https://eventgrid.azure.net`).
Each identity has a client id and the scopes it may touch (`/subscriptions/<sub>` or
`/subscriptions/<sub>/resourceGroups/<rg>` prefixes, compared case-insensitively).

Construction (keyword-only, plain values)::

    create_app(
        identities={"<client id>": ["/subscriptions/<sub>/resourceGroups/<rg>"], ...},
        default_client_id="<client id used when the request names none (the Function App's)>",
        header="<value expected in X-IDENTITY-HEADER>",
        token_key="<HMAC key shared with localcloud.arm.create_app>",
        tenant_id="<tenant GUID>",
        clock=time.time,              # epoch-seconds callable; token lifetimes read it
        token_lifetime=86400.0,       # seconds
    ) -> Starlette
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ARM_AUDIENCES = frozenset(
    {
        "https://management.azure.com",
        "https://management.azure.com/",
        "https://management.core.windows.net",
        "https://management.core.windows.net/",
    }
)
# What Event Grid accepts as a publisher token's `aud`: the resource of the scope the SDK asks for,
# `https://eventgrid.azure.net/.default` (azure-eventgrid `_legacy/_constants.py` DEFAULT_EVENTGRID_SCOPE), and
# the docs' "the audience ... is confirmed to be Event Grid (`https://eventgrid.azure.net`)" (MicrosoftDocs/azure-docs
# `articles/event-grid/authenticate-with-microsoft-entra-id.md`). With a trailing slash too, as ARM's.
EVENTGRID_AUDIENCES = frozenset({"https://eventgrid.azure.net", "https://eventgrid.azure.net/"})
Clock = Callable[[], float]
_PRINCIPAL_NAMESPACE = uuid.UUID("4b0a1c6e-8f3d-4f43-9a55-4c6f63616c31")


@dataclass(frozen=True)
class ManagedIdentity:
    client_id: str
    scopes: tuple[str, ...]

    @property
    def principal_id(self) -> str:
        """The identity's object id: stable for a client id, distinct from it (as in Entra ID)."""
        return str(uuid.uuid5(_PRINCIPAL_NAMESPACE, self.client_id.lower()))

    def may_touch(self, scope: str) -> bool:
        """True when `scope` (a resource id or path) lies inside one of this identity's scopes."""
        wanted = scope.rstrip("/").lower() + "/"
        return any(wanted.startswith(own.rstrip("/").lower() + "/") for own in self.scopes)

    def has_subscription(self, subscription_id: str) -> bool:
        prefix = f"/subscriptions/{subscription_id.lower()}/"
        return any((own.rstrip("/").lower() + "/").startswith(prefix) for own in self.scopes)


def identities_from(mapping: Mapping[str, Sequence[str]]) -> dict[str, ManagedIdentity]:
    """Client id (lower-cased) -> identity, from the plain `{client_id: [scopes]}` form."""
    return {cid.lower(): ManagedIdentity(client_id=cid, scopes=tuple(scopes)) for cid, scopes in mapping.items()}


class TokenError(Exception):
    """A bearer token ARM must refuse; `code` is ARM's error code for it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class TokenAuthority:
    """Issues and verifies the access tokens of the managed identities."""

    def __init__(self, *, key: str, tenant_id: str, clock: Clock = time.time, lifetime: float = 86400.0):
        # Any shared text works as the key: it is stretched to the 32 bytes HS256 wants.
        self._key = hashlib.sha256(key.encode()).digest()
        self.tenant_id = tenant_id
        self._clock = clock
        self._lifetime = lifetime

    @property
    def issuer(self) -> str:
        return f"https://sts.windows.net/{self.tenant_id}/"

    def issue(self, identity: ManagedIdentity, resource: str) -> tuple[str, int]:
        now = int(self._clock())
        expires_on = now + int(self._lifetime)
        claims = {
            "aud": resource,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": expires_on,
            "appid": identity.client_id,
            "appidacr": "2",
            "idtyp": "app",
            "oid": identity.principal_id,
            "sub": identity.principal_id,
            "tid": self.tenant_id,
            "uti": uuid.uuid4().hex[:22],
            "ver": "1.0",
        }
        return jwt.encode(claims, self._key, algorithm="HS256"), expires_on

    def verify(self, token: str, audiences: frozenset[str] = ARM_AUDIENCES) -> dict[str, Any]:
        """The token's claims, or TokenError with the code ARM answers for it; `aud` must be one of `audiences`."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
            )
        except jwt.InvalidTokenError as exc:
            raise TokenError("InvalidAuthenticationToken", "The access token is invalid.") from exc
        now = self._clock()
        if claims.get("iss") != self.issuer:
            raise TokenError(
                "InvalidAuthenticationTokenTenant",
                f"The access token is from the wrong issuer '{claims.get('iss')}'. It must match the tenant "
                f"'{self.issuer}' associated with this subscription. Please use the authority (URL) "
                f"'https://login.windows.net/{self.tenant_id}' to get the token.",
            )
        if float(claims.get("exp", 0)) < now:
            expired = _utc(float(claims.get("exp", 0)))
            raise TokenError(
                "ExpiredAuthenticationToken",
                f"The access token expiry UTC time '{expired}' is earlier than current UTC time '{_utc(now)}'.",
            )
        if claims.get("aud") not in audiences:
            allowed = ",".join(f"'{aud}'" for aud in sorted(audiences))
            raise TokenError(
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{claims.get('aud')}'. "
                f"It should exactly match with one of the allowed audiences {allowed}.",
            )
        return claims


def _utc(epoch: float) -> str:
    return time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(epoch))


def create_app(
    *,
    identities: Mapping[str, Sequence[str]],
    default_client_id: str,
    header: str,
    token_key: str,
    tenant_id: str,
    clock: Clock = time.time,
    token_lifetime: float = 86400.0,
) -> Starlette:
    known = identities_from(identities)
    if default_client_id.lower() not in known:
        raise ValueError("default_client_id must be one of the identities")
    authority = TokenAuthority(key=token_key, tenant_id=tenant_id, clock=clock, lifetime=token_lifetime)
    by_object_id = {identity.principal_id: identity for identity in known.values()}

    def refuse(status: int, message: str) -> JSONResponse:
        # App Service's identity endpoint answers errors in this shape.
        return JSONResponse(
            {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}, status_code=status
        )

    async def token(request: Request) -> JSONResponse:
        if request.headers.get("x-identity-header") != header:
            return refuse(401, "Unauthorized: the X-IDENTITY-HEADER header is missing or does not match.")
        params = request.query_params
        if params.get("api-version") != "2019-08-01":
            return refuse(400, "The api-version parameter is missing or not supported; use 2019-08-01.")
        resource = params.get("resource")
        if not resource:
            return refuse(400, "The resource parameter is required.")
        if params.get("client_id"):
            identity = known.get(params["client_id"].lower())
        elif params.get("object_id") or params.get("principal_id"):
            identity = by_object_id.get((params.get("object_id") or params.get("principal_id") or "").lower())
        else:
            identity = known[default_client_id.lower()]
        if identity is None:
            return refuse(
                400,
                "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.",
            )
        access_token, expires_on = authority.issue(identity, resource)
        return JSONResponse(
            {
                "access_token": access_token,
                "expires_on": str(expires_on),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": identity.client_id,
            }
        )

    return Starlette(routes=[Route("/msi/token", token, methods=["GET"]), Route("/msi/token/", token, methods=["GET"])])
