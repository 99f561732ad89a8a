"""A function key is worth no more than the API offers: a link cannot make the app connect anywhere, or use any
secret, the operator did not configure. An attacker's HTTPS server on loopback, presenting a certificate the app
trusts, must receive nothing at all, whatever a link names and whichever route or timer touches it."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableClient, UpdateMode

from localcloud.stack import REDIS_PASSWORD_SETTING
from tests.e2e.world import TABLE_PREFIX, World


class Attacker:
    """An HTTPS server on loopback recording every request; it answers 204 as a passing Redis probe would."""

    def __init__(self, certfile: Path, keyfile: Path) -> None:
        self.requests: list[dict[str, Any]] = []
        recorded = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode(errors="replace") if length else ""
                recorded.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                self.send_response(204)
                self.end_headers()

            do_GET = do_POST = do_PUT = do_DELETE = _record

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(str(certfile), str(keyfile))
        self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def attacker(world: World) -> Iterator[Attacker]:
    # localcloud's own server certificate (localhost, 127.0.0.1), which the app trusts: only the trust model
    # keeps the app away from this server, not TLS.
    tls_dir = Path(world.endpoints["caBundle"]).parent
    server = Attacker(tls_dir / "server.pem", tls_dir / "server-key.pem")
    yield server
    server.close()


def refused_target(answer: Any) -> list[str]:
    assert answer.status_code == 400, answer.text
    return [detail["target"] for detail in answer.json()["error"]["details"]]


def attacker_urls(world: World, attacker: Attacker) -> list[str]:
    host_pattern_port = world.emqx["deploymentApiUrl"].split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]
    arm, identity = world.endpoints["arm"]["endpoint"], world.endpoints["identity"]["endpoint"]
    return [
        f"https://127.0.0.1:{attacker.port}/api/v5",
        f"https://localhost:{attacker.port}/api/v5",
        f"https://a5e7c1d0.deployments.localhost:{attacker.port}/api/v5",
        f"{arm}/api/v5",
        identity.replace("http://", "https://").split("/msi/")[0] + "/api/v5",
        f"https://169.254.169.254:{host_pattern_port}/api/v5",
        world.emqx["deploymentApiUrl"].rsplit("/api/", 1)[0] + "/api/v5/../../public_api/v1",
    ]


def test_a_deployment_api_outside_the_operators_hosts_is_refused(world: World, attacker: Attacker) -> None:
    network = world.network()
    for index, url in enumerate(attacker_urls(world, attacker)):
        body = world.link_body(network)
        body["emqx"]["deploymentApiUrl"] = url
        answer = world.put_link(f"foreign-api-{index}", body)
        assert refused_target(answer) == ["emqx.deploymentApiUrl"], url
        assert world.api.get(f"/links/foreign-api-{index}").status_code == 404
    assert attacker.requests == []


APP_SETTINGS = [
    ("apiKeySetting", "EMQX_PLATFORM_API_SECRET"),
    ("apiSecretSetting", "STATE_STORAGE_CONNECTION_STRING"),
    ("apiSecretSetting", "AzureWebJobsStorage"),
    ("redisPasswordSetting", "IDENTITY_HEADER"),
    ("redisPasswordSetting", "EMQX_PLATFORM_API_KEY"),
    ("redisPasswordSetting", "PATH"),
]


@pytest.mark.parametrize(("field", "setting"), APP_SETTINGS)
def test_a_link_may_name_only_the_operators_link_secrets(world: World, field: str, setting: str) -> None:
    network = world.network()
    body = world.link_body(network)
    body["emqx"][field] = setting
    name = f"secret-{field.lower()[:8]}-{setting.lower().replace('_', '')[:12]}"
    assert refused_target(world.put_link(name, body)) == [f"emqx.{field}"]
    assert world.api.get(f"/links/{name}").status_code == 404


def test_a_private_link_ip_comes_from_emqx_in_api_mode(world: World) -> None:
    body = world.link_body(world.network())
    body["emqx"]["privateLinkIp"] = "10.200.0.4"
    assert refused_target(world.put_link("caller-ip", body)) == ["emqx.privateLinkIp"]


def _tamper(world: World, name: str, emqx: dict[str, str]) -> None:
    """Rewrite a stored link's desired state as an older version of the app, or a hand edit, could have left it."""
    table = TableClient.from_connection_string(
        world.endpoints["storage"]["connectionString"], table_name=f"{TABLE_PREFIX}Links"
    )
    with table:
        entity = table.get_entity(name, "link")
        assert "Desired1" not in entity
        desired = json.loads(entity["Desired0"])
        desired["emqx"].update(emqx)
        entity["Desired0"] = json.dumps(desired)
        entity["Generation"] += 1  # a new desired state: the monitor tests the link again
        table.update_entity(entity, mode=UpdateMode.MERGE)


def test_a_stored_link_reaching_past_the_operator_reaches_nothing(world: World, attacker: Attacker) -> None:
    world.running_link("tampered")
    _tamper(
        world,
        "tampered",
        {
            "deploymentApiUrl": f"https://localhost:{attacker.port}/api/v5",
            "apiKeySetting": "EMQX_PLATFORM_API_KEY",
            "apiSecretSetting": "EMQX_PLATFORM_API_SECRET",
            "redisPasswordSetting": REDIS_PASSWORD_SETTING,
        },
    )
    monitored = world.wait_for("tampered", lambda link: link["status"]["lastRedisTest"]["passed"] is False)
    assert "EMQX_DEPLOYMENT_API_HOSTS" in monitored["status"]["lastRedisTest"]["reason"]
    tested = world.api.post("/links/tampered/test")
    assert tested.status_code == 200, tested.text
    result = tested.json()["result"]
    assert result["passed"] is False
    assert "EMQX_DEPLOYMENT_API_HOSTS" in result["reason"]
    world.api.post("/links/tampered/register")
    refused = world.api.delete("/links/tampered")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "InUseCheckImpossible"

    _tamper(world, "tampered", {"deploymentApiUrl": world.emqx["deploymentApiUrl"]})
    tested = world.api.post("/links/tampered/test").json()["result"]
    assert tested["passed"] is False
    assert "LINK_SECRET_SETTINGS" in tested["reason"]
    assert attacker.requests == []
    world.delete_until_gone("tampered", force="true")
    assert attacker.requests == []


def test_a_load_balancer_of_someone_else_is_refused_before_anything_is_stored(world: World) -> None:
    network = world.network()
    group = f"/subscriptions/{network.subscription_id}/resourceGroups/{network.resource_group}"
    lb_id = f"{group}/providers/Microsoft.Network/loadBalancers/lb-theirs"
    world.foreign_load_balancer(network, lb_id)
    body = world.link_body(network, names={"loadBalancer": "lb-theirs"})
    world.reset_calls()
    refused = world.put_link("theirs", body)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["target"] == "azure.names.loadBalancer"
    assert world.api.get("/links/theirs").status_code == 404
    assert world.arm_calls_under(group) == []


def test_a_refused_update_leaves_the_stored_version_unchanged(world: World) -> None:
    network = world.network()
    mine = world.provision("mine", world.link_body(network))
    other = world.provision("other", world.link_body(network, frontendPort=6380, backendPort=6380))
    assert other["status"]["phase"] == "provisioned"
    taking = world.link_body(network, names={"privateLinkService": "pls-other"})
    refused = world.put_link("mine", taking, allowReplace="true")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["target"] == "azure.names.privateLinkService"
    after = world.get_link("mine")
    assert (after["spec"], after["generation"]) == (mine["spec"], mine["generation"])


def test_a_console_private_link_ip_is_private_and_each_change_audited(console_world: World) -> None:
    network = console_world.network()
    body = console_world.link_body(network)
    for public in ("203.0.113.7", "127.0.0.1", "169.254.169.254"):
        body["emqx"]["privateLinkIp"] = public
        assert refused_target(console_world.put_link("reported", body)) == ["emqx.privateLinkIp"]
    assert console_world.api.get("/links/reported").status_code == 404
    for private in ("10.200.0.9", "10.200.0.10", "10.200.0.10"):
        body["emqx"]["privateLinkIp"] = private
        assert console_world.put_link("reported", body).status_code in (200, 201, 202)
    table = TableClient.from_connection_string(
        console_world.endpoints["storage"]["connectionString"], table_name=f"{TABLE_PREFIX}Audit"
    )
    with table:
        records = list(table.query_entities("PartitionKey eq 'reported'"))
    changes = [r["reason"] for r in records if r["action"] == "report PrivateLink IP"]
    assert changes == ["from none to 10.200.0.9", "from 10.200.0.9 to 10.200.0.10"]
