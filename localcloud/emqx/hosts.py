"""Deployment host names: every deployment's API at its own host, as in EMQX Cloud.

EMQX Cloud gives each deployment a host name and serves its API at `https://<host>:8443/api/v5` (v5 and v6)
or `/api/v4` (v4). The stand-in does the same on its one listener, by `Host` header: a request for
`{deploymentId}.deployments.localhost[:port]` is that deployment's API, anything else is the Platform API's
host. Names under `.localhost` are loopback by RFC 6761 §6.3 and the server certificate covers
`*.deployments.localhost` (`localcloud.tls`), so TLS is verified by the deployment's name.

Plain values only (no server code), for the stand-in, the runner's endpoints.json and test clients:

    deployment_host("a5e7c1d0")                          -> "a5e7c1d0.deployments.localhost"
    deployment_api_url("https://127.0.0.1:8443", "a5e7c1d0", "v5")
                                                         -> "https://a5e7c1d0.deployments.localhost:8443/api/v5"
    deployment_api_hosts("https://127.0.0.1:8443")      -> "*.deployments.localhost:8443" (operator allow-list)
    direct(url) -> (url, headers, extensions)            a deployment API URL a client can send to without DNS
"""

from __future__ import annotations

from typing import Any

import httpx

DEPLOYMENT_HOST_SUFFIX = ".deployments.localhost"
LOOPBACK = "127.0.0.1"
# The path each API version lives at on its deployment's host (EMQX 6 keeps `/api/v5`).
API_PATHS = {"v5": "/api/v5", "v4": "/api/v4"}


def deployment_host(deployment_id: str) -> str:
    return deployment_id + DEPLOYMENT_HOST_SUFFIX


def deployment_id_of(host: str) -> str | None:
    """The deployment a host name (no port, any case) names, or None for every other host."""
    host = host.lower()
    if not host.endswith(DEPLOYMENT_HOST_SUFFIX):
        return None
    label = host.removesuffix(DEPLOYMENT_HOST_SUFFIX)
    return label if label and "." not in label else None


def _port(base_url: str) -> int:
    url = httpx.URL(base_url)
    if url.port is not None:
        return url.port
    return 443 if url.scheme == "https" else 80


def deployment_api_url(base_url: str, deployment_id: str, version: str) -> str:
    """A deployment's API URL on the stand-in listening at `base_url` (`https://127.0.0.1:{port}`)."""
    url = httpx.URL(base_url)
    return f"{url.scheme}://{deployment_host(deployment_id)}:{_port(base_url)}{API_PATHS[version]}"


def deployment_api_hosts(base_url: str) -> str:
    """The operator allow-list entry (`EMQX_DEPLOYMENT_API_HOSTS`) for every deployment of that listener."""
    return f"*{DEPLOYMENT_HOST_SUFFIX}:{_port(base_url)}"


def direct(url: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """Where to send a request for `url` when the system resolver does not resolve `*.localhost` (glibc).

    For a deployment API URL: the same URL on 127.0.0.1, the `Host` header naming the deployment, and httpx's
    `sni_hostname` extension so TLS still verifies the certificate by that name. Any other URL comes back
    unchanged, with no headers or extensions. Use as::

        target, headers, extensions = direct(f"{api_url}/connectors")
        client.post(target, headers=headers, extensions=extensions, json=..., auth=...)

    A client keeps its TLS connections per address, so one it already has open to 127.0.0.1:{port} (for the
    Platform API, say) may carry the call without a new handshake; use a fresh client to test the handshake.
    """
    parsed = httpx.URL(url)
    if deployment_id_of(parsed.host) is None:
        return url, {}, {}
    host = parsed.host if parsed.port is None else f"{parsed.host}:{parsed.port}"
    return str(parsed.copy_with(host=LOOPBACK)), {"Host": host}, {"sni_hostname": parsed.host}
