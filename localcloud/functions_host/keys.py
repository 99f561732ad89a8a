"""Host keys and the authorization levels of the Azure Functions host.

Keys are taken as the host's `AuthenticationLevelHandler.GetAuthorizationKeyInfoAsync` takes them
(Azure/azure-functions-host
`src/WebJobs.Script.WebHost/Security/Authentication/Keys/AuthenticationLevelHandler.cs`): the first
`x-functions-key` header when the header is present at all (even empty, which then counts as no key), else the
first `code` query value, the name matched ignoring case. `function` level accepts the function key or the
master key; `admin` only the master key; `anonymous` needs none. Extension webhooks (Event Grid) take the
system key `eventgrid_extension` or the master key. A missing or wrong key is answered 401 with an empty body
by the caller.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from localcloud.functions_host.aspnet import first_value_ignoring_case, query_collection

KEY_HEADER = "x-functions-key"
KEY_QUERY_PARAMETER = "code"


class AuthLevel(StrEnum):
    ANONYMOUS = "anonymous"
    FUNCTION = "function"
    ADMIN = "admin"
    # not a level a function can declare: what the host's extension webhooks require
    SYSTEM = "system"


@dataclass(frozen=True, repr=False)
class HostKeys:
    """The three keys of one host; `repr()` never shows them."""

    function_key: str
    master_key: str
    system_key: str

    @classmethod
    def generate(cls) -> HostKeys:
        return cls(
            function_key=secrets.token_urlsafe(40),
            master_key=secrets.token_urlsafe(40),
            system_key=secrets.token_urlsafe(40),
        )

    def as_dict(self) -> dict[str, str]:
        return {"function_key": self.function_key, "master_key": self.master_key, "system_key": self.system_key}

    @classmethod
    def from_dict(cls, values: Mapping[str, str]) -> HostKeys:
        missing = [name for name in ("function_key", "master_key", "system_key") if not values.get(name)]
        if missing:
            raise ValueError(f"host keys: missing {', '.join(missing)}")
        return cls(values["function_key"], values["master_key"], values["system_key"])

    def __repr__(self) -> str:
        return "HostKeys(function_key=***, master_key=***, system_key=***)"

    def accepted_for(self, level: AuthLevel) -> tuple[str, ...]:
        if level is AuthLevel.FUNCTION:
            return (self.function_key, self.master_key)
        if level is AuthLevel.ADMIN:
            return (self.master_key,)
        if level is AuthLevel.SYSTEM:
            return (self.system_key, self.master_key)
        return ()


def presented_key(headers: Mapping[str, str], raw_query: str) -> str | None:
    """The key a request presents; `headers` case-insensitive giving a header's first value (Starlette's)."""
    presented: str | None
    if KEY_HEADER in headers:
        presented = headers[KEY_HEADER]
    else:
        presented = first_value_ignoring_case(query_collection(raw_query), KEY_QUERY_PARAMETER)
    return presented or None


def is_authorized(keys: HostKeys, level: AuthLevel, presented: str | None) -> bool:
    if level is AuthLevel.ANONYMOUS:
        return True
    if not presented:
        return False
    # compare against every accepted key so the time taken does not tell which one nearly matched
    matches = [hmac.compare_digest(presented.encode(), key.encode()) for key in keys.accepted_for(level)]
    return any(matches)
