"""The trust model: a link may only choose among what the operator configured.

A caller holding a function key writes links; the operator writes the app settings. Everything in a link that
makes the app connect somewhere or use a secret is checked against the operator's settings, once when the link
is PUT (`link_trust_problems`, a 400 naming each field) and again at the moment of use (`deployment_api`,
`redis_server`), so a link stored before the operator narrowed a setting cannot reach past it:

- `emqx.deploymentApiUrl`: an allowed EMQX deployment API (`shared.hosts`, `EMQX_DEPLOYMENT_API_HOSTS`);
- `emqx.apiKeySetting`, `emqx.apiSecretSetting`, `emqx.redisPasswordSetting`: settings listed in
  `LINK_SECRET_SETTINGS`, never one the app or the Functions platform uses itself;
- `emqx.privateLinkIp`, where EMQX is asked to send the Redis password: in `api` mode EMQX reports it and a
  caller may not set it; in `console` mode it must be a private address (RFC 1918 or RFC 6598).
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address

from shared.emqx import DeploymentApi
from shared.hosts import deployment_api_url_problem
from shared.model import EmqxSpec, LinkSpec
from shared.settings import RegistrationMode, Settings, SettingsError, is_reserved_setting

_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(prefix) for prefix in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)


def _secret_settings(spec: EmqxSpec) -> dict[str, str]:
    return {
        "apiKeySetting": spec.api_key_setting,
        "apiSecretSetting": spec.api_secret_setting,
        "redisPasswordSetting": spec.redis_password_setting,
    }


def _secret_setting_problem(name: str, settings: Settings) -> str | None:
    if is_reserved_setting(name):
        return f"{name} is a setting the app or the Functions platform uses itself; a link may not name it"
    if name not in settings.link_secret_settings:
        return f"{name} is not among the settings the operator lists in LINK_SECRET_SETTINGS"
    if not settings.has_setting(name):
        return f"{name} is listed in LINK_SECRET_SETTINGS but not set"
    return None


def private_link_ip_problem(ip: IPv4Address | None, settings: Settings) -> str | None:
    if ip is None:
        return None
    if settings.registration_mode is RegistrationMode.API:
        return "EMQX reports the PrivateLink IP in api mode; leave it out"
    if not any(ip in network for network in _PRIVATE_NETWORKS):
        return f"{ip} is not a private address (10/8, 172.16/12, 192.168/16 or 100.64/10), as a PrivateLink IP is"
    return None


def link_trust_problems(spec: LinkSpec, settings: Settings) -> list[tuple[str, str]]:
    """`(target, message)` for each field of `spec` that reaches past what the operator configured."""
    emqx = spec.emqx
    problems: list[tuple[str, str]] = []
    url_problem = deployment_api_url_problem(
        emqx.deployment_api_url, emqx.deployment_api_version.value, settings.emqx_deployment_api_hosts
    )
    if url_problem:
        problems.append(("emqx.deploymentApiUrl", url_problem))
    for field, name in _secret_settings(emqx).items():
        problem = _secret_setting_problem(name, settings)
        if problem:
            problems.append((f"emqx.{field}", problem))
    ip_problem = private_link_ip_problem(emqx.private_link_ip, settings)
    if ip_problem:
        problems.append(("emqx.privateLinkIp", ip_problem))
    return problems


def deployment_api(spec: EmqxSpec, settings: Settings) -> DeploymentApi:
    """How to reach the link's deployment API, checked again now; SettingsError when the operator's settings
    no longer allow it."""
    problem = deployment_api_url_problem(
        spec.deployment_api_url, spec.deployment_api_version.value, settings.emqx_deployment_api_hosts
    )
    if problem:
        raise SettingsError("EMQX_DEPLOYMENT_API_HOSTS", f"the link's emqx.deploymentApiUrl {problem}")
    return DeploymentApi(
        version=spec.deployment_api_version.value,
        url=spec.deployment_api_url,
        key=settings.named_secret(spec.api_key_setting),
        secret=settings.named_secret(spec.api_secret_setting),
    )


def redis_server(reported: IPv4Address | None, spec: EmqxSpec, settings: Settings) -> IPv4Address | None:
    """The PrivateLink IP the Redis test goes through: EMQX's own report in api mode, the operator's (checked
    again) in console mode; SettingsError when the stored one is no longer acceptable."""
    if settings.registration_mode is RegistrationMode.API:
        return reported
    problem = private_link_ip_problem(spec.private_link_ip, settings)
    if problem:
        raise SettingsError("REGISTRATION_MODE", f"the link's emqx.privateLinkIp: {problem}")
    return spec.private_link_ip


__all__ = [
    "deployment_api",
    "link_trust_problems",
    "private_link_ip_problem",
    "redis_server",
]
