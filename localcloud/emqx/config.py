"""What an EMQX Cloud account holds at construction: projects, deployments, their API keys.

Plain frozen dataclasses, built by the caller (see `localcloud.emqx.defaults` for the runner's set).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

# The functions a Platform API key can be scoped to (the console's "functionality scope" picker), plus
# `privatelinks` for this project's own PrivateLink contract (api mode).
PLATFORM_SCOPES = frozenset({"deployments", "projects", "tls", "privatelinks"})


@dataclass(frozen=True)
class Project:
    project_id: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class PlatformKey:
    """A Platform API key: Basic auth key:secret, its functions, and the projects it may see (None: all)."""

    key: str
    secret: str = field(repr=False)
    scopes: frozenset[str] = PLATFORM_SCOPES
    projects: frozenset[str] | None = None

    def sees_project(self, project_id: str) -> bool:
        return self.projects is None or project_id in self.projects


@dataclass(frozen=True)
class DeploymentKey:
    """A deployment API key (App ID : App Secret).

    v5 keys carry per-path, per-method permissions, keyed by the broker's path templates
    (`/connectors_probe`, `/connectors`, `/connectors/:id`); None grants every path and method.
    v4 keys have full access and ignore `permissions`.
    """

    app_id: str
    secret: str = field(repr=False)
    permissions: Mapping[str, frozenset[str]] | None = None

    def allows(self, path_template: str, method: str) -> bool:
        if self.permissions is None:
            return True
        return method.upper() in self.permissions.get(path_template, frozenset())


@dataclass(frozen=True)
class Deployment:
    deployment_id: str
    name: str
    version: str  # "v5" | "v4"
    project_id: str
    api_keys: tuple[DeploymentKey, ...]
    status: str = "running"  # running | starting | stopped (documented); pending | stopping | failed
    platform: str = "Azure"
    region: str = "East US (Virginia)"
    location: str = "eastus"  # the Azure region EMQX's own VNet and private endpoints live in
    deployment_type: str = "dedicated"
    connections: int = 1000
    tps: int = 1000
    create_at: str = "2026-01-05 09:30"
    # On the stand-in's clock: a deployment created through the API shows `starting` until then.
    running_from: float = 0.0

    def __post_init__(self) -> None:
        if self.version not in ("v5", "v4"):
            raise ValueError(f"deployment {self.deployment_id}: version must be v5 or v4, not {self.version!r}")


@dataclass(frozen=True)
class Account:
    projects: tuple[Project, ...]
    platform_keys: tuple[PlatformKey, ...]
    deployments: tuple[Deployment, ...]

    def with_deployment(self, deployment: Deployment) -> Account:
        return replace(self, deployments=(*self.deployments, deployment))

    def deployment(self, deployment_id: str) -> Deployment | None:
        return next((d for d in self.deployments if d.deployment_id == deployment_id), None)

    def project(self, project_id: str) -> Project | None:
        return next((p for p in self.projects if p.project_id == project_id), None)
