"""Every answer the app gives the suite, every line its Functions host logs and every record it stores, searched
for the secret values its stacks are configured with.

The secrets are those of the app's settings: the Redis password, the EMQX Platform API secret, the deployment API
secrets, the storage account key and the managed identity endpoint's header. The host's own keys are not among
them (they are the suite's, sent on every call).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx

from tests.reliability.world import ReliableWorld

SECRET_KINDS = (
    "the Redis password",
    "the EMQX Platform API secret",
    "the v5 deployment API secret",
    "the v4 deployment API secret",
    "the storage account key",
    "the managed identity header",
)


def configured_secrets(world: ReliableWorld) -> dict[str, str]:
    """Secret value -> what it is, for one stack."""
    endpoints, emqx = world.endpoints, world.emqx
    storage = dict(part.split("=", 1) for part in endpoints["storage"]["connectionString"].split(";") if "=" in part)
    values = (
        endpoints["redis"]["password"],
        emqx["platformApiSecret"],
        emqx["deploymentApiSecret"],
        emqx["v4DeploymentApiSecret"],
        storage["AccountKey"],
        endpoints["identity"]["header"],
    )
    return {value: what for what, value in zip(SECRET_KINDS, values, strict=True) if value}


@dataclass
class SecretWatch:
    secrets: dict[str, str] = field(default_factory=dict)
    # (where, text) of everything looked at: answers as they arrive, logs and records when a stack stops
    texts: list[tuple[str, str]] = field(default_factory=list)
    answers: int = 0
    records: int = 0
    log_lines: int = 0

    def watch(self, world: ReliableWorld) -> None:
        """Learn the world's secrets and keep every answer its app clients receive."""
        self.secrets.update(configured_secrets(world))
        for client in (world.api, world.host):
            hooks = client.event_hooks
            client.event_hooks = {**hooks, "response": [*hooks["response"], self._keep_answer]}

    def _keep_answer(self, response: httpx.Response) -> None:
        response.read()
        self.answers += 1
        request = response.request
        self.texts.append((f"the answer to {request.method} {request.url.path}", response.text))

    def collect_stored(self, world: ReliableWorld) -> None:
        """Read the world's stored links and audit records and its host log (call before the stack stops)."""
        for table in ("Links", "Audit"):
            for entity in world.entities(table):
                self.records += 1
                where = f"the {table} record {entity['PartitionKey']}/{entity['RowKey']}"
                self.texts.append((where, json.dumps(entity, default=str)))
        log = world.host_log.read_text(errors="replace")
        self.log_lines += len(log.splitlines())
        self.texts.append((f"the host log {world.host_log.name} of {world.stack.options.workdir.name}", log))

    def leaks(self) -> list[str]:
        return [
            f"{what} appears in {where}"
            for where, text in self.texts
            for value, what in self.secrets.items()
            if value in text
        ]
