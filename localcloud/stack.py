"""The whole local stack: CA, Azurite, redis-server, the stand-ins and the Functions host.

`Stack` is what `python -m localcloud up`, the demo and the tests start. The stand-ins run in one event loop
on a background thread; Azurite, redis-server and the Functions host are child processes in their own
process groups. `stop()` ends all of them.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from localcloud import arm, eventgrid, identity
from localcloud.arm.authorization import network_rbac
from localcloud.azurite import PROJECT_ROOT, Azurite
from localcloud.emqx import create_app as create_emqx
from localcloud.emqx.defaults import default_account, endpoint_entries
from localcloud.functions_host import HostKeys
from localcloud.processes import ChildProcess, free_port
from localcloud.redis_server import RedisServer
from localcloud.serving import Listener, bind_loopback, serve_forever
from localcloud.tls import LocalCA

# Fixed identities of the emulated world, so endpoints.json and the demo read the same every time.
TENANT_ID = "72f988bf-0000-4000-8000-00000000a2ce"
SUBSCRIPTION_ID = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
EMQX_SUBSCRIPTION_ID = "e5e11a00-0000-4000-8000-00000000e3c5"
APP_CLIENT_ID = "a1b2c3d4-0000-4000-8000-0000000f00c0"
OPERATOR_CLIENT_ID = "0be7a70e-0000-4000-8000-000000000be7"
EMQX_CLIENT_ID = "e3c50000-0000-4000-8000-00000000e3c5"
# The Event Grid custom topic the app publishes its CloudEvents to: its resource group and name.
EVENTGRID_TOPIC_GROUP = "rg-emqx-privatelink"
EVENTGRID_TOPIC_NAME = "evgt-emqx-privatelink"
# The names of the app settings a link refers to for its secrets (in Azure: Key Vault references).
DEPLOYMENT_KEY_SETTING = "EMQX_DEPLOYMENT_API_KEY"
DEPLOYMENT_SECRET_SETTING = "EMQX_DEPLOYMENT_API_SECRET"
V4_DEPLOYMENT_KEY_SETTING = "EMQX_V4_DEPLOYMENT_API_KEY"
V4_DEPLOYMENT_SECRET_SETTING = "EMQX_V4_DEPLOYMENT_API_SECRET"
REDIS_PASSWORD_SETTING = "DEMO_REDIS_PASSWORD"
LINK_SECRET_SETTINGS = (
    DEPLOYMENT_KEY_SETTING,
    DEPLOYMENT_SECRET_SETTING,
    V4_DEPLOYMENT_KEY_SETTING,
    V4_DEPLOYMENT_SECRET_SETTING,
    REDIS_PASSWORD_SETTING,
)


@dataclass
class StackOptions:
    workdir: Path = PROJECT_ROOT / ".localcloud"
    app_ref: str = "function_app:app"
    app_dir: Path = PROJECT_ROOT
    speed: float = 1.0
    registration_mode: str = "api"
    extra_settings: dict[str, str] = field(default_factory=dict)
    start_host: bool = True
    # The Event Grid custom topic, passed to the app as EVENTGRID_TOPIC_ENDPOINT (the app publishes when it is set).
    eventgrid_topic: bool = True


class Stack:
    """Start with `start()`, stop with `stop()`; `endpoints` is what endpoints.json holds."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.endpoints: dict[str, Any] = {}
        self.app_settings: dict[str, str] = {}
        self._children: list[ChildProcess] = []
        self._services: list[Azurite | RedisServer] = []
        self._loop_thread: threading.Thread | None = None
        self._host_keys: HostKeys | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._serve_error: BaseException | None = None

    @property
    def log_dir(self) -> Path:
        return self.options.workdir / "logs"

    def start(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        workdir = self.options.workdir
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "endpoints.json").unlink(missing_ok=True)
        ca = LocalCA.create(workdir / "tls")
        self.endpoints["caBundle"] = str(ca.ca_bundle)

        azurite = Azurite(self.log_dir)
        self._services.append(azurite)
        self.endpoints["storage"] = {"connectionString": azurite.connection_string}

        redis = RedisServer(self.log_dir)
        self._services.append(redis)
        creds = redis.credentials
        self.endpoints["redis"] = {"host": creds.host, "port": creds.port, "password": creds.password}

        self._serve_in_background(self._stand_ins(ca))

        self.app_settings = self._app_settings(ca.ca_bundle, azurite.connection_string)
        if self.options.start_host:
            self._start_host()
            self._subscribe_approver()
        self._write_endpoints()

    def _stand_ins(self, ca: LocalCA) -> list[Listener]:
        speed = self.options.speed
        token_key = secrets.token_urlsafe(32)
        identity_header = secrets.token_urlsafe(16)
        identities = {
            APP_CLIENT_ID: [f"/subscriptions/{SUBSCRIPTION_ID}"],
            OPERATOR_CLIENT_ID: [f"/subscriptions/{SUBSCRIPTION_ID}"],
            EMQX_CLIENT_ID: [f"/subscriptions/{EMQX_SUBSCRIPTION_ID}"],
        }
        arm_sock, identity_sock, emqx_sock = bind_loopback(), bind_loopback(), bind_loopback()
        # The app's identity holds only the network role of infra/network-role.json, as deployed, but assigned on the
        # whole subscription so that every test's resource groups are in scope; a test narrows it with
        # PUT /localcloud/rbac (the operator and EMQX identities are not under RBAC).
        rbac = network_rbac(APP_CLIENT_ID, [f"/subscriptions/{SUBSCRIPTION_ID}"])
        arm_listener = Listener(
            arm.create_app(identities=identities, token_key=token_key, tenant_id=TENANT_ID, speed=speed, rbac=rbac),
            arm_sock,
            ca.server,
        )
        identity_listener = Listener(
            identity.create_app(
                identities=identities,
                default_client_id=APP_CLIENT_ID,
                header=identity_header,
                token_key=token_key,
                tenant_id=TENANT_ID,
            ),
            identity_sock,
        )
        identity_endpoint = f"{identity_listener.base_url}/msi/token"
        account = default_account()
        emqx_listener = Listener(
            create_emqx(
                arm_endpoint=arm_listener.base_url,
                identity_endpoint=identity_endpoint,
                identity_header=identity_header,
                emqx_subscription_id=EMQX_SUBSCRIPTION_ID,
                emqx_client_id=EMQX_CLIENT_ID,
                ca_bundle=ca.ca_bundle,
                platform_keys=account.platform_keys,
                deployments=account.deployments,
                projects=account.projects,
                speed=speed,
            ),
            emqx_sock,
            ca.server,
        )
        self.endpoints["arm"] = {
            "endpoint": arm_listener.base_url,
            "subscriptionId": SUBSCRIPTION_ID,
            "emqxSubscriptionId": EMQX_SUBSCRIPTION_ID,
            "tenantId": TENANT_ID,
            "operatorClientId": OPERATOR_CLIENT_ID,
            "appClientId": APP_CLIENT_ID,
        }
        self.endpoints["identity"] = {"endpoint": identity_endpoint, "header": identity_header}
        self.endpoints["emqx"] = endpoint_entries(emqx_listener.base_url, account)
        listeners = [arm_listener, identity_listener, emqx_listener]
        if self.options.eventgrid_topic:
            listeners.append(self._custom_topic(ca, token_key))
        return listeners

    def _custom_topic(self, ca: LocalCA, token_key: str) -> Listener:
        """The Event Grid custom topic (CloudEvents input schema); the app's identity is its EventGrid Data Sender."""
        topic_id = eventgrid.topic_resource_id(SUBSCRIPTION_ID, EVENTGRID_TOPIC_GROUP, EVENTGRID_TOPIC_NAME)
        app = eventgrid.create_app(
            token_key=token_key,
            tenant_id=TENANT_ID,
            topic_id=topic_id,
            senders=[APP_CLIENT_ID],
            speed=self.options.speed,
            ca_bundle=str(ca.ca_bundle),
        )
        listener = Listener(app, bind_loopback(), ca.server)
        self.endpoints["eventgrid"] = {
            "baseUrl": listener.base_url,
            "topicEndpoint": f"{listener.base_url}/api/events",
            "topicId": topic_id,
            "control": f"{listener.base_url}/localcloud",
        }
        return listener

    def _app_settings(self, ca_bundle: Path, storage_connection_string: str) -> dict[str, str]:
        arm_endpoints, emqx = self.endpoints["arm"], self.endpoints["emqx"]
        settings = {
            "FUNCTIONS_WORKER_RUNTIME": "python",
            "AzureWebJobsStorage": storage_connection_string,
            "IDENTITY_ENDPOINT": self.endpoints["identity"]["endpoint"],
            "IDENTITY_HEADER": self.endpoints["identity"]["header"],
            "ARM_ENDPOINT": arm_endpoints["endpoint"],
            "TLS_CA_BUNDLE": str(ca_bundle),
            "STATE_STORAGE_CONNECTION_STRING": storage_connection_string,
            "EMQX_PLATFORM_API_URL": emqx["platformApiUrl"],
            "EMQX_PLATFORM_API_KEY": emqx["platformApiKey"],
            "EMQX_PLATFORM_API_SECRET": emqx["platformApiSecret"],
            "EMQX_AZURE_SUBSCRIPTION_ID": EMQX_SUBSCRIPTION_ID,
            "REGISTRATION_MODE": self.options.registration_mode,
            "MONITOR_SCHEDULE": "*/5 * * * * *",
            "REDIS_TEST_INTERVAL": "1h",
            DEPLOYMENT_KEY_SETTING: emqx["deploymentApiKey"],
            DEPLOYMENT_SECRET_SETTING: emqx["deploymentApiSecret"],
            V4_DEPLOYMENT_KEY_SETTING: emqx["v4DeploymentApiKey"],
            V4_DEPLOYMENT_SECRET_SETTING: emqx["v4DeploymentApiSecret"],
            REDIS_PASSWORD_SETTING: self.endpoints["redis"]["password"],
            "LINK_SECRET_SETTINGS": ",".join(LINK_SECRET_SETTINGS),
            # The deployments' APIs are on loopback here, under localcloud's own names.
            "EMQX_DEPLOYMENT_API_HOSTS": self.endpoints["emqx"]["deploymentApiHosts"],
            "EMQX_ALLOW_LOOPBACK": "true",
        }
        if "eventgrid" in self.endpoints:
            settings["EVENTGRID_TOPIC_ENDPOINT"] = self.endpoints["eventgrid"]["topicEndpoint"]
        settings.update(self.options.extra_settings)
        return settings

    def _subscribe_approver(self) -> None:
        """Event Grid's system topic delivers to the approve function's webhook (validation handshake first)."""
        functions = self.endpoints["functions"]
        assert self._host_keys is not None
        webhook = (
            f"{functions['baseUrl']}/runtime/webhooks/eventgrid?functionName=approve&code={self._host_keys.system_key}"
        )
        body = {
            "endpoint": webhook,
            "subjectBeginsWith": f"/subscriptions/{SUBSCRIPTION_ID}/",
            "includedEventTypes": [
                "Microsoft.Resources.ResourceWriteSuccess",
                "Microsoft.Resources.ResourceDeleteSuccess",
                "Microsoft.Resources.ResourceActionSuccess",
            ],
        }
        url = f"{self.endpoints['arm']['endpoint']}/localcloud/eventgrid/subscriptions/approve"
        with httpx.Client(verify=ssl.create_default_context(cafile=self.endpoints["caBundle"]), timeout=30) as client:
            answer = client.put(url, json=body)
        if answer.status_code >= 300:
            raise RuntimeError(f"the Event Grid subscription failed: {answer.status_code} {answer.text[:300]}")

    def _serve_in_background(self, listeners: list[Listener]) -> None:
        if not listeners:
            return
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._stop_event = asyncio.Event()
            ready.set()
            try:
                loop.run_until_complete(serve_forever(listeners, self._stop_event))
            except BaseException as error:  # surfaced by stop()
                self._serve_error = error
            finally:
                loop.close()

        self._loop_thread = threading.Thread(target=run, name="localcloud-standins", daemon=True)
        self._loop_thread.start()
        ready.wait(timeout=10)

    def _start_host(self) -> None:
        keys = HostKeys.generate()
        self._host_keys = keys
        keys_file = self.options.workdir / "host-keys.json"
        keys_file.write_text(json.dumps(keys.as_dict()))
        keys_file.chmod(0o600)
        port = free_port()
        env = {**os.environ, **self.app_settings}
        child = ChildProcess(
            "functions-host",
            [
                sys.executable,
                "-m",
                "localcloud.functions_host",
                "--app",
                self.options.app_ref,
                "--app-dir",
                str(self.options.app_dir),
                "--port",
                str(port),
                "--keys-file",
                str(keys_file),
            ],
            self.log_dir,
            env=env,
        )
        self._children.append(child)
        base_url = f"http://127.0.0.1:{port}"
        self._wait_until_host_answers(child, base_url, keys)
        self.endpoints["functions"] = {
            "baseUrl": base_url,
            "functionKey": keys.function_key,
            "masterKey": keys.master_key,
        }

    def kill_host(self) -> None:
        """SIGKILL the Functions host's process group, as a crash would: nothing of the app gets to clean up."""
        host = self._children.pop()
        os.killpg(host.process.pid, signal.SIGKILL)
        host.process.wait(timeout=10)
        host.stop()

    def restart_host(self) -> None:
        """A new Functions host (new port and keys), with the Event Grid subscription moved to its webhook."""
        self._start_host()
        self._subscribe_approver()
        self._write_endpoints()

    @staticmethod
    def _wait_until_host_answers(child: ChildProcess, base_url: str, keys: HostKeys) -> None:
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                if child.process.poll() is not None:
                    raise RuntimeError(f"the Functions host exited:\n{child.log_tail()}")
                try:
                    answer = client.get(f"{base_url}/admin/host/status", headers={"x-functions-key": keys.master_key})
                    if answer.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise TimeoutError(f"the Functions host did not answer in 60 s:\n{child.log_tail()}")

    def _write_endpoints(self) -> None:
        path = self.options.workdir / "endpoints.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.endpoints, indent=2) + "\n")
        tmp.chmod(0o600)
        tmp.replace(path)

    def stop(self) -> None:
        for child in reversed(self._children):
            child.stop()
        self._children.clear()
        if self._loop is not None and self._stop_event is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop_event.set)
        if self._loop_thread is not None:
            self._loop_thread.join(timeout=15)
            self._loop_thread = None
        for service in reversed(self._services):
            service.stop()
        self._services.clear()
        (self.options.workdir / "endpoints.json").unlink(missing_ok=True)
        if self._serve_error is not None:
            error, self._serve_error = self._serve_error, None
            raise RuntimeError("the localcloud stand-ins stopped with an error") from error

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
