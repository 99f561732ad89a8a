"""The Links table read without the Azure SDK: one link, or one page of links, for the read-only routes.

The standard library only (`http.client` in a worker thread), so that a cold start whose first request is a GET
loads neither azure-core, azure-data-tables, aiohttp nor pydantic (the README's "Cold start"). It reads what the
store writes, through the same codec (`shared.link_record`), and authenticates as the store does:

- with `STATE_STORAGE_CONNECTION_STRING` (Azurite, locally): the account key signs each request (Shared Key, the
  Table service's scheme the Tables SDK uses), or the string's `SharedAccessSignature` goes in the query;
- with `STATE_TABLE_SERVICE_URI` (Azure): a bearer token for `https://storage.azure.com` from the managed
  identity endpoint (the App Service protocol: `IDENTITY_ENDPOINT`, the `X-IDENTITY-HEADER` header from
  `IDENTITY_HEADER`, api-version 2019-08-01, `client_id` from `AZURE_CLIENT_ID` when set), kept until five minutes
  before it expires.

Without either (no identity endpoint in the environment, say, where `DefaultAzureCredential` would use a
developer's Azure CLI login), or with a connection string of another form (`UseDevelopmentStorage=true`),
`reads_for_this_process()` answers None and the routes read through the store.
TLS trusts the system's CA store, as the store's client does.

Answers map to `shared.errors` as the store maps the Tables SDK's: a missing link (or table) is `NotFoundError`;
408, 429, 500, 502, 503 and 504 are retried three times on azure-core's schedule (at once, 1.6 s, 3.2 s, or the
Retry-After) and then `TemporaryError`, as is no answer at all (refused, reset, timed out); any other status is
`UpstreamError` naming the service's error code. Each error is chained to its cause.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import os
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Final, Protocol
from urllib.parse import quote, urlencode, urlsplit

from shared.clock import Clock, SystemClock
from shared.errors import (
    TEMPORARY_HTTP_STATUSES,
    AppError,
    NotFoundError,
    TemporaryError,
    UpstreamError,
    retry_after_delay,
)
from shared.link_record import LINK_ROW, StoredLink, decode_token, encode_token, is_link_name, stored_link_from_entity
from shared.settings import Settings, SettingsError

LINKS_TABLE_SUFFIX: Final = "Links"  # `shared.store.LINKS`
_API_VERSION: Final = "2019-02-02"  # the Tables SDK's
_ACCEPT: Final = "application/json;odata=minimalmetadata"  # carries each entity's ETag
_STORAGE_RESOURCE: Final = "https://storage.azure.com"
_IDENTITY_API_VERSION: Final = "2019-08-01"
_TOKEN_MARGIN_SECONDS: Final = 300
_CONNECT_TIMEOUT: Final = 10.0  # the store's connection_timeout
_READ_TIMEOUT: Final = 30.0  # and read_timeout
_BACKOFF: Final = (0.0, 1.6, 3.2)  # azure-core's waits before each retry (backoff factor 0.8, retry_total 3)
_MAX_RETRY_AFTER: Final = 30.0
# Idle connections older than this are not reused: servers close theirs (Azurite after 5 s by default).
_IDLE_SECONDS: Final = 4.0
TABLE_STORAGE: Final = "table storage"
IDENTITY_ENDPOINT: Final = "the managed identity endpoint"


class ServiceAnsweredError(Exception):
    """A service answered with an error status (mapped to `shared.errors` by `_mapped`)."""

    def __init__(self, service: str, status: int, code: str | None, retry_after: float | None = None) -> None:
        super().__init__(f"{service} answered {status} {code or ''}".rstrip())
        self.service, self.status, self.code, self.retry_after = service, status, code, retry_after


class IdentityUnreachableError(OSError):
    """The managed identity endpoint did not answer (the cause is chained)."""


@dataclass
class _Request:
    path: str  # percent-encoded, as sent and signed
    query: list[tuple[str, str]]
    headers: dict[str, str]
    raw_query: str = ""  # already encoded (a SAS)

    @property
    def target(self) -> str:
        given = "&".join(f"{name}={quote(value, safe='')}" for name, value in self.query)
        query = "&".join(part for part in (given, self.raw_query) if part)
        return f"{self.path}?{query}" if query else self.path


@dataclass(frozen=True)
class _Response:
    status: int
    headers: Mapping[str, str]  # names lower-cased
    body: bytes

    def json(self, service: str) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as error:
            raise ServiceAnsweredError(service, self.status, "a body that is not JSON") from error


class _Origin:
    """One scheme://host:port, with a small pool of kept-alive connections (`http.client`, blocking)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL")
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname, parts.port
        self._idle: list[tuple[float, http.client.HTTPConnection]] = []
        self._lock = threading.Lock()

    def _connect(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if self.https:
            connection = http.client.HTTPSConnection(
                self.host, self.port, timeout=_CONNECT_TIMEOUT, context=_tls_context()
            )
        else:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=_CONNECT_TIMEOUT)
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(_READ_TIMEOUT)
        return connection

    def _take(self) -> http.client.HTTPConnection | None:
        with self._lock:
            while self._idle:
                since, connection = self._idle.pop()
                if time.monotonic() - since < _IDLE_SECONDS:
                    return connection
                connection.close()
        return None

    def get(self, target: str, headers: Mapping[str, str]) -> _Response:
        """GET `target` on a kept-alive connection, or a new one when the server closed the kept one."""
        connection = self._take()
        if connection is not None:
            try:
                return self._exchange(connection, target, headers)
            except (ConnectionError, http.client.BadStatusLine):
                pass  # closed by the server while idle: the request was not served
        return self._exchange(self._connect(), target, headers)

    def _exchange(self, connection: http.client.HTTPConnection, target: str, headers: Mapping[str, str]) -> _Response:
        try:
            connection.request("GET", target, headers=dict(headers))
            response = connection.getresponse()
            body = response.read()
        except BaseException:
            connection.close()
            raise
        answer = _Response(response.status, {name.lower(): value for name, value in response.getheaders()}, body)
        if response.will_close:
            connection.close()
        else:
            with self._lock:
                self._idle.append((time.monotonic(), connection))
        return answer

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for _, connection in idle:
            connection.close()


_tls: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    global _tls  # noqa: PLW0603 - one context per process: loading the CA store takes a while
    if _tls is None:
        _tls = ssl.create_default_context()
    return _tls


class _Auth(Protocol):
    def authorize(self, request: _Request) -> None:
        """Add the request's credentials (blocking: a token may have to be fetched)."""


@dataclass(frozen=True)
class _SharedKey:
    account: str
    key: bytes = field(repr=False)

    def authorize(self, request: _Request) -> None:
        # The Table service's Shared Key: VERB, Content-MD5, Content-Type, Date (x-ms-date), then the resource.
        to_sign = f"GET\n\n\n{request.headers['x-ms-date']}\n/{self.account}{request.path}"
        digest = hmac.new(self.key, to_sign.encode(), hashlib.sha256).digest()
        request.headers["Authorization"] = f"SharedKey {self.account}:{base64.b64encode(digest).decode()}"


@dataclass(frozen=True)
class _SharedAccessSignature:
    query: str = field(repr=False)

    def authorize(self, request: _Request) -> None:
        request.raw_query = self.query


@dataclass
class _ManagedIdentity:
    endpoint: str
    header: str = field(repr=False)
    client_id: str | None
    _origin: _Origin = field(init=False, repr=False)
    _token: tuple[str, float] | None = field(default=None, repr=False)  # the token and when to stop using it
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._origin = _Origin(self.endpoint)

    def authorize(self, request: _Request) -> None:
        request.headers["Authorization"] = f"Bearer {self._bearer()}"

    def _bearer(self) -> str:
        with self._lock:
            if self._token is None or time.time() >= self._token[1]:
                self._token = self._fetch()
            return self._token[0]

    def _fetch(self) -> tuple[str, float]:
        parts = urlsplit(self.endpoint)
        params = {"api-version": _IDENTITY_API_VERSION, "resource": _STORAGE_RESOURCE}
        if self.client_id:
            params["client_id"] = self.client_id
        query = "&".join(part for part in (parts.query, urlencode(params)) if part)
        try:
            answer = self._origin.get(f"{parts.path or '/'}?{query}", {"X-IDENTITY-HEADER": self.header})
        except (OSError, http.client.HTTPException) as error:
            raise IdentityUnreachableError(type(error).__name__) from error
        if answer.status != 200:
            raise ServiceAnsweredError(IDENTITY_ENDPOINT, answer.status, _identity_error(answer), _retry_after(answer))
        content = answer.json(IDENTITY_ENDPOINT)
        try:
            token, expires_on = str(content["access_token"]), float(content["expires_on"])
        except (KeyError, TypeError, ValueError) as error:
            raise ServiceAnsweredError(IDENTITY_ENDPOINT, answer.status, "no access_token and expires_on") from error
        return token, expires_on - _TOKEN_MARGIN_SECONDS


def _identity_error(answer: _Response) -> str | None:
    """The OAuth error code of a refusal (`invalid_request`, say), never its description."""
    try:
        code = json.loads(answer.body).get("error")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, str) and code.isidentifier() else None


def _retry_after(answer: _Response) -> float | None:
    return retry_after_delay(answer.headers.get("retry-after"))


def _connection_string_parts(raw: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in raw.split(";"):
        if item.strip():
            name, _, value = item.partition("=")
            parts[name.strip().lower()] = value.strip()
    return parts


def _from_connection_string(raw: str) -> tuple[str, _Auth] | None:
    """The table endpoint and credentials of a connection string, as the Tables SDK reads one; None for any other
    form (`UseDevelopmentStorage=true`, no key and no signature), which is left to the SDK."""
    parts = _connection_string_parts(raw)
    account = parts.get("accountname")
    endpoint = parts.get("tableendpoint")
    if not endpoint and account:
        protocol = parts.get("defaultendpointsprotocol", "https")
        endpoint = f"{protocol}://{account}.table.{parts.get('endpointsuffix', 'core.windows.net')}"
    if not endpoint:
        return None
    if account and parts.get("accountkey"):
        try:
            return endpoint, _SharedKey(account, base64.b64decode(parts["accountkey"], validate=True))
        except ValueError:
            raise SettingsError("STATE_STORAGE_CONNECTION_STRING", "its AccountKey is not base64") from None
    if parts.get("sharedaccesssignature"):
        return endpoint, _SharedAccessSignature(parts["sharedaccesssignature"].lstrip("?"))
    return None


class TableReads:
    """Reads of the Links table. Blocking I/O runs in worker threads; one instance serves any event loop."""

    def __init__(
        self, endpoint: str, auth: _Auth, table: str, *, retries: int = len(_BACKOFF), clock: Clock | None = None
    ) -> None:
        self._clock = clock or SystemClock()
        self._origin = _Origin(endpoint)
        self._base_path = urlsplit(endpoint).path.rstrip("/")
        self._auth = auth
        self._table = table
        self._retries = retries

    @classmethod
    def from_settings(
        cls, settings: Settings, environ: Mapping[str, str], *, retries: int = len(_BACKOFF)
    ) -> TableReads | None:
        """A connection string when set; else the service URI with the managed identity; None when the reader cannot
        authenticate with what is set (the routes then read through the store)."""
        table = f"{settings.state_table_prefix}{LINKS_TABLE_SUFFIX}"
        if settings.state_storage_connection_string is not None:
            parsed = _from_connection_string(settings.state_storage_connection_string.reveal())
            return None if parsed is None else cls(*parsed, table, retries=retries)
        identity_endpoint, identity_header = environ.get("IDENTITY_ENDPOINT"), environ.get("IDENTITY_HEADER")
        if settings.state_table_service_uri is None or not identity_endpoint or not identity_header:
            return None
        identity = _ManagedIdentity(identity_endpoint, identity_header, settings.managed_identity_client_id)
        return cls(settings.state_table_service_uri, identity, table, retries=retries)

    def close(self) -> None:
        self._origin.close()

    async def read_link(self, name: str) -> StoredLink:
        """The stored link `name` as JSON; `NotFoundError` if there is none (or `name` cannot be a link name)."""
        missing = NotFoundError(f"Link {name} does not exist.", target="name")
        if not is_link_name(name):
            raise missing
        path = f"{self._base_path}/{self._table}(PartitionKey='{_key(name)}',RowKey='{LINK_ROW}')"
        answer = await self._get(f"read link {name}", path, [])
        if answer.status == 404:  # no such entity, or no table yet
            raise missing
        entity = _answered(f"read link {name}", answer)
        return stored_link_from_entity(entity, entity.get("odata.etag") or answer.headers.get("etag"))

    async def read_links(
        self, page_size: int = 100, continuation: str | None = None
    ) -> tuple[list[StoredLink], str | None]:
        """One page of links (at most `page_size`, 1-1000) as JSON, and the token for the next, None after the last."""
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be 1-1000 (the Table service's page limit)")
        query = [("$top", str(page_size))]
        next_keys = decode_token(continuation) or {}
        for key in ("PartitionKey", "RowKey"):
            if next_keys.get(key):
                query.append((f"Next{key}", next_keys[key]))
        answer = await self._get("list links", f"{self._base_path}/{self._table}()", query)
        if answer.status == 404:  # no table yet: no link either
            return [], None
        entities = _answered("list links", answer).get("value", [])
        records = [stored_link_from_entity(entity, entity.get("odata.etag")) for entity in entities]
        following = {
            key: value
            for key in ("PartitionKey", "RowKey")
            if (value := answer.headers.get(f"x-ms-continuation-next{key.lower()}"))
        }
        return records, encode_token(following)

    async def _get(self, action: str, path: str, query: list[tuple[str, str]]) -> _Response:
        """The service's answer to a GET, after the retries of a temporary failure."""
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                answer = await asyncio.to_thread(self._send, path, query)
            except ServiceAnsweredError as error:  # from the identity endpoint
                if error.status not in TEMPORARY_HTTP_STATUSES or last:
                    raise _mapped(action, error) from error
                await self._clock.sleep(_wait(attempt, error.retry_after))
                continue
            except (OSError, http.client.HTTPException) as error:
                if last:
                    raise _mapped(action, error) from error
                await self._clock.sleep(_wait(attempt, None))
                continue
            if answer.status not in TEMPORARY_HTTP_STATUSES or last:
                return answer
            await self._clock.sleep(_wait(attempt, _retry_after(answer)))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, path: str, query: list[tuple[str, str]]) -> _Response:
        headers = {
            "x-ms-date": formatdate(usegmt=True),
            "x-ms-version": _API_VERSION,
            "Accept": _ACCEPT,
            "DataServiceVersion": "3.0",
            "MaxDataServiceVersion": "3.0;NetFx",
        }
        request = _Request(path, query, headers)
        self._auth.authorize(request)
        return self._origin.get(request.target, request.headers)


def _key(value: str) -> str:
    """A key in an entity's address: quotes doubled (OData), then percent-encoded."""
    return quote(value.replace("'", "''"), safe="")


def _wait(attempt: int, retry_after: float | None) -> float:
    return max(_BACKOFF[min(attempt, len(_BACKOFF) - 1)], min(retry_after or 0.0, _MAX_RETRY_AFTER))


def _answered(action: str, answer: _Response) -> dict[str, Any]:
    """The JSON object of a 200 answer; any other answer as the store maps it."""
    if answer.status != 200:
        error = ServiceAnsweredError(TABLE_STORAGE, answer.status, _error_code(answer))
        raise _mapped(action, error) from error
    try:
        content = answer.json(TABLE_STORAGE)
        if not isinstance(content, dict):
            raise ServiceAnsweredError(TABLE_STORAGE, answer.status, "a body that is not a JSON object")
    except ServiceAnsweredError as error:
        raise _mapped(action, error) from error
    return content


def _error_code(answer: _Response) -> str | None:
    code = answer.headers.get("x-ms-error-code")
    if code:
        return code
    try:
        error = json.loads(answer.body)["odata.error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(error)


def _mapped(action: str, error: Exception) -> AppError:
    """`error` as `shared.errors` has it (as `shared.store._storage_errors` maps the Tables SDK's)."""
    if isinstance(error, ServiceAnsweredError):
        if error.status in TEMPORARY_HTTP_STATUSES:
            return TemporaryError(f"{action}: {error.service} answered {error.status}; try again later")
        return UpstreamError(f"{action}: {error}")
    if isinstance(error, IdentityUnreachableError):
        return TemporaryError(f"{action}: {IDENTITY_ENDPOINT} did not answer ({error})")
    return TemporaryError(f"{action}: {TABLE_STORAGE} did not answer ({type(error).__name__})")


_by_loop: dict[asyncio.AbstractEventLoop, TableReads | None] = {}


def reads_for_this_process() -> TableReads | None:
    """The process's reader, from the app settings (read once); None when only the Azure SDK can authenticate."""
    loop = asyncio.get_running_loop()
    if loop not in _by_loop:
        _by_loop[loop] = TableReads.from_settings(Settings.from_mapping(), os.environ)
    return _by_loop[loop]


__all__ = ["IdentityUnreachableError", "ServiceAnsweredError", "TableReads", "reads_for_this_process"]
