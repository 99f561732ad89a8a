"""Where EMQX traffic may go: the operator's host allow-list, the deployment API URL rules, and the addresses
no EMQX host name may resolve to.

A link names its EMQX deployment API, and the app sends that deployment's API key and the Redis password there.
So the operator, not the caller, decides which hosts those can be (`EMQX_DEPLOYMENT_API_HOSTS`, by default
EMQX Cloud's deployment domains, reference emqx-api.md §5): a URL is `https://<host>[:443|:8443]/api/v5` (or
`/api/v4`), its host matched by a pattern of the list, an IP literal only where the list names that address.
At connect time, a name that resolves to a link-local address (169.254.0.0/16 holds the instance metadata and
identity endpoints), to loopback (unless the operator allows it, for localcloud) or to no unicast address at all
is refused, so a DNS answer cannot undo the allow-list.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

DEPLOYMENT_API_PORTS = (443, 8443)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_HOST_AND_PORT = re.compile(r"^(?P<host>\[[^\]]+\]|[^:]+)(?::(?P<port>\d{1,5}))?$")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ip_literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _check_name(host: str) -> None:
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError("is not a host name (letters, digits, dashes and dots)")


@dataclass(frozen=True)
class HostPattern:
    """One entry of `EMQX_DEPLOYMENT_API_HOSTS`: `*.emqxsl.com` (any name under it), `name`, or an IP literal,
    with `:port` to allow exactly that port instead of 443 and 8443."""

    host: str
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> HostPattern:
        match = _HOST_AND_PORT.match(text.strip().lower())
        if not match:
            raise ValueError("expected host, *.domain or an IP address, optionally with :port")
        host, port = match.group("host"), match.group("port")
        if port is not None and not 1 <= int(port) <= 65535:
            raise ValueError("the port must be 1-65535")
        address = _ip_literal(host)
        if address is not None:
            host = str(address)
        elif host.startswith("*."):
            suffix = host[2:]
            _check_name(suffix)
            if suffix.count(".") < 1:
                raise ValueError("a wildcard needs a domain of at least two labels after it, e.g. *.emqxsl.com")
        else:
            _check_name(host)
        return cls(host, int(port) if port is not None else None)

    @property
    def is_address(self) -> bool:
        return _ip_literal(self.host) is not None

    def matches(self, host: str, port: int) -> bool:
        if (port != self.port) if self.port is not None else (port not in DEPLOYMENT_API_PORTS):
            return False
        address = _ip_literal(host)
        if address is not None:
            return self.is_address and address == ipaddress.ip_address(self.host)
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


DEFAULT_DEPLOYMENT_API_HOSTS = tuple(HostPattern.parse(p) for p in ("*.emqxsl.com", "*.emqxcloud.com", "*.emqx.cloud"))


def _url_shape_problem(url: str, version: str) -> str | None:
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port only shows when read
    except ValueError:
        return "must be an https:// URL"
    if parts.scheme != "https" or not parts.hostname:
        return "must be an https:// URL"
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        return "must be https://<host>[:port]/api/<version>, without credentials, query or fragment"
    expected_path = f"/api/{version}"
    if parts.path.rstrip("/") != expected_path:
        return f"must end in {expected_path}, the API of a {version} deployment (https://<host>:8443{expected_path})"
    host = parts.hostname.rstrip(".")
    if _ip_literal(host) is None:
        try:
            _check_name(host)
        except ValueError as problem:
            return f"its host {problem}"
    return None


def deployment_api_url_problem(url: str, version: str, allowed: tuple[HostPattern, ...]) -> str | None:
    """Why the app may not call `url` as the API of a `version` deployment, or None when it may."""
    shape_problem = _url_shape_problem(url, version)
    if shape_problem:
        return shape_problem
    parts = urlsplit(url)
    host, port = (parts.hostname or "").rstrip("."), parts.port or 443
    if any(pattern.matches(host, port) for pattern in allowed):
        return None
    where = ", ".join(str(pattern) for pattern in allowed)
    if _ip_literal(host) is not None:
        return f"names an IP address; the operator allows only these deployment API hosts: {where}"
    return (
        f"{host}:{port} is not a deployment API host the operator allows (EMQX_DEPLOYMENT_API_HOSTS: {where}; "
        "ports 443 and 8443 unless a pattern names one)"
    )


def loopback_name(host: str) -> bool:
    """`localhost` and every name under it are loopback by definition (RFC 6761 §6.3), whatever DNS says."""
    host = host.lower().rstrip(".")
    return host == "localhost" or host.endswith(".localhost")


def refused_address(address: str, *, allow_loopback: bool) -> str | None:
    """Why EMQX traffic may not go to `address`, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local:
        return f"{ip} is link-local, where the instance metadata and identity endpoints live"
    if ip.is_loopback and not allow_loopback:
        return f"{ip} is a loopback address"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return f"{ip} is not a unicast address"
    return None


__all__ = [
    "DEFAULT_DEPLOYMENT_API_HOSTS",
    "DEPLOYMENT_API_PORTS",
    "HostPattern",
    "deployment_api_url_problem",
    "loopback_name",
    "refused_address",
]
