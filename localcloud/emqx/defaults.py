"""The runner's EMQX account and the entries it writes into endpoints.json.

One project, one Platform API key with every scope, a v5 and a v4 Dedicated deployment on Azure, each
with one deployment API key of full access; fresh random secrets at every start. Each deployment's API is at
its own host, as in EMQX Cloud: `https://{deploymentId}.deployments.localhost:{port}/api/v5` (or `/api/v4`).
The host-name helpers (`DEPLOYMENT_HOST_SUFFIX`, `deployment_api_hosts` for the operator allow-list, `direct`
for clients without a `*.localhost` resolver) live in `localcloud.emqx.hosts` and are re-exported here.
"""

from __future__ import annotations

import secrets
from typing import Any

from localcloud.emqx import hosts
from localcloud.emqx.config import Account, Deployment, DeploymentKey, PlatformKey, Project
from localcloud.emqx.hosts import DEPLOYMENT_HOST_SUFFIX, deployment_api_hosts, direct
from localcloud.emqx.platform_api import PREFIX as PLATFORM_PREFIX

__all__ = [
    "DEPLOYMENT_HOST_SUFFIX",
    "default_account",
    "deployment_api_hosts",
    "deployment_api_url",
    "direct",
    "endpoint_entries",
    "platform_api_url",
]


def _deployment_key() -> DeploymentKey:
    return DeploymentKey(app_id="app-" + secrets.token_hex(6), secret=secrets.token_urlsafe(24))


def default_account() -> Account:
    project = Project(project_id="project-localcloud", name="default", description="localcloud")
    v5 = Deployment(
        deployment_id="a5e7c1d0",
        name="deployment-a5e7c1d0",
        version="v5",
        project_id=project.project_id,
        api_keys=(_deployment_key(),),
    )
    v4 = Deployment(
        deployment_id="b4f2e9a3",
        name="deployment-b4f2e9a3",
        version="v4",
        project_id=project.project_id,
        api_keys=(_deployment_key(),),
    )
    key = PlatformKey(key="key-" + secrets.token_hex(8), secret=secrets.token_urlsafe(32))
    return Account(projects=(project,), platform_keys=(key,), deployments=(v5, v4))


def platform_api_url(base_url: str) -> str:
    return base_url.rstrip("/") + PLATFORM_PREFIX


def deployment_api_url(base_url: str, deployment: Deployment) -> str:
    """`https://{deploymentId}.deployments.localhost:{port}/api/v5` (`/api/v4`) for the listener at `base_url`."""
    return hosts.deployment_api_url(base_url, deployment.deployment_id, deployment.version)


def endpoint_entries(base_url: str, account: Account) -> dict[str, Any]:
    """The `emqx` section of endpoints.json for an account whose first v5 and first v4 deployments are used."""
    v5 = next(d for d in account.deployments if d.version == "v5")
    v4 = next(d for d in account.deployments if d.version == "v4")
    key = account.platform_keys[0]
    return {
        "platformApiUrl": platform_api_url(base_url),
        "platformApiKey": key.key,
        "platformApiSecret": key.secret,
        "deploymentId": v5.deployment_id,
        "deploymentApiUrl": deployment_api_url(base_url, v5),
        "deploymentApiKey": v5.api_keys[0].app_id,
        "deploymentApiSecret": v5.api_keys[0].secret,
        "v4DeploymentId": v4.deployment_id,
        "v4DeploymentApiUrl": deployment_api_url(base_url, v4),
        "v4DeploymentApiKey": v4.api_keys[0].app_id,
        "v4DeploymentApiSecret": v4.api_keys[0].secret,
        "deploymentApiHosts": deployment_api_hosts(base_url),
        "consoleUrl": base_url.rstrip("/") + "/localcloud/console/privatelinks",
    }
