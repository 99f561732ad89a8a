"""Shared pieces of the EMQX stand-in tests: the emulated account, recorded fixtures, clients at a deployment's host."""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from localcloud.emqx import Deployment, DeploymentKey, PlatformKey, Project, direct
from localcloud.emqx.cloud import EmqxCloud
from localcloud.emqx.defaults import deployment_api_url
from localcloud.emqx.hosts import deployment_host

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "emqx"
EMQX_SUBSCRIPTION = "5e5f0c2a-9d1b-4c7e-8a66-0d7f3b2e1a90"
EMQX_CLIENT_ID = "7c9e6f1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
# Nothing listens on port 1: the stand-in's calls to Azure fail as a network failure would.
UNREACHABLE_ARM = "https://127.0.0.1:1"
UNREACHABLE_IDENTITY = "http://127.0.0.1:1/msi/token"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def direct_options(url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """httpx client options for a base URL at a deployment's host (`direct`), and the extensions to send."""
    target, headers, extensions = direct(url)
    return {"base_url": target, "headers": headers}, extensions


def direct_client(url: str, ca_bundle: Path, auth: tuple[str, str] | None = None) -> httpx.Client:
    """A client with base URL `url` at a deployment's host: sent to 127.0.0.1, TLS verified by the host name."""
    options, extensions = direct_options(url)

    def name_the_host(request: httpx.Request) -> None:
        request.extensions = {**request.extensions, **extensions}

    return httpx.Client(
        **options,
        auth=auth,
        verify=ssl.create_default_context(cafile=str(ca_bundle)),
        timeout=10,
        event_hooks={"request": [name_the_host]},
    )


@dataclass(frozen=True)
class Account:
    project: Project
    other_project: Project
    key: PlatformKey
    projects_only_key: PlatformKey
    other_project_key: PlatformKey
    v5: Deployment
    v4: Deployment
    probe_only_key: DeploymentKey


def build_account() -> Account:
    project = Project(project_id="project-1", name="default", description="preview")
    other = Project(project_id="project-2", name="other", description="")
    full_v5 = DeploymentKey(app_id="app-v5", secret="v5-secret")
    probe_only = DeploymentKey(
        app_id="app-v5-probe", secret="probe-secret", permissions={"/connectors_probe": frozenset({"POST"})}
    )
    return Account(
        project=project,
        other_project=other,
        key=PlatformKey(key="key-all", secret="secret-all"),
        projects_only_key=PlatformKey(key="key-projects", secret="secret-projects", scopes=frozenset({"projects"})),
        other_project_key=PlatformKey(key="key-other", secret="secret-other", projects=frozenset({"project-2"})),
        v5=Deployment(
            deployment_id="w41b11c0",
            name="deployment-w41b11c0",
            version="v5",
            project_id=project.project_id,
            api_keys=(full_v5, probe_only),
        ),
        v4=Deployment(
            deployment_id="v4d0a1b2",
            name="deployment-v4d0a1b2",
            version="v4",
            project_id=project.project_id,
            api_keys=(DeploymentKey(app_id="app-v4", secret="v4-secret"),),
        ),
        probe_only_key=probe_only,
    )


@dataclass
class StandIn:
    base_url: str
    account: Account
    cloud: EmqxCloud
    ca_bundle: Path

    def client(self, auth: tuple[str, str] | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            auth=auth,
            verify=ssl.create_default_context(cafile=str(self.ca_bundle)),
            timeout=10,
        )

    def platform(self, key: PlatformKey | None = None) -> httpx.Client:
        key = key or self.account.key
        return httpx.Client(
            base_url=self.base_url + "/public_api/v1",
            auth=(key.key, key.secret),
            verify=ssl.create_default_context(cafile=str(self.ca_bundle)),
            timeout=10,
        )

    def host_url(self, deployment_id: str) -> str:
        """`https://{deployment_id}.deployments.localhost:{port}`: a deployment's host, no API path."""
        return f"https://{deployment_host(deployment_id)}:{httpx.URL(self.base_url).port}"

    def host(self, deployment_id: str, auth: tuple[str, str] | None = None) -> httpx.Client:
        """A client for any path on a deployment's host."""
        return direct_client(self.host_url(deployment_id), self.ca_bundle, auth)

    def v5(self, key: DeploymentKey | None = None, auth: tuple[str, str] | None = None) -> httpx.Client:
        key = key or self.account.v5.api_keys[0]
        url = deployment_api_url(self.base_url, self.account.v5)
        return direct_client(url, self.ca_bundle, auth or (key.app_id, key.secret))

    def v4(self, auth: tuple[str, str] | None = None) -> httpx.Client:
        key = self.account.v4.api_keys[0]
        url = deployment_api_url(self.base_url, self.account.v4)
        return direct_client(url, self.ca_bundle, auth or (key.app_id, key.secret))
