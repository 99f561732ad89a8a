"""Links in many shapes, for the tests of the stored record and its view (unit and integration): every optional
field of the desired state set and unset, the observed status from its defaults to full, texts beyond ASCII, and
a link too large for one string property. `models_view` is the view as it was made from the models (pydantic),
the reference the record's view is held to."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from shared.model import (
    MAX_HISTORY,
    AzureResources,
    ConnectionState,
    EmqxPrivateLink,
    Health,
    Link,
    LinkSpec,
    LinkStatus,
    Phase,
    RedisTestResult,
    StepOutcome,
    StepRecord,
)
from shared.names import ResourceId
from tests.bodies import NETWORK, SUB, Deployment, FakeNetwork, guide_body, lb_rule_body, link_body, minimal_body

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RECORDING = Path(__file__).resolve().parent.parent / "fixtures" / "model" / "pls-lifecycle.azure-sdk-recordings.json"


def recorded_ids() -> dict[str, str]:
    """The resource IDs Azure returned in the recorded PrivateLink traffic, by the last type in each."""
    ids = sorted(set(re.findall(r'"(/subscriptions/[^"?]+)"', RECORDING.read_text())))
    return {f"{ResourceId.parse(text).types[-1]}:{ResourceId.parse(text).name}": text for text in ids}


def spec(name: str, body: dict[str, Any]) -> LinkSpec:
    return LinkSpec.model_validate({"name": name, **body})


def step(index: int, outcome: StepOutcome = StepOutcome.SUCCEEDED, detail: str = "") -> StepRecord:
    return StepRecord(at=T0 + timedelta(seconds=index), step=f"step-{index}", outcome=outcome, detail=detail)


def recorded_link() -> Link:
    """A v4 deployment's link over the subnets, NIC and private endpoint of the recorded Azure traffic."""
    ids = recorded_ids()
    network = FakeNetwork(
        "00000000-0000-0000-0000-000000000000",
        "rgname",
        "eastus",
        ids["subnets:subnet1"],
        ids["networkInterfaces:myService.nic.fb81476c-3647-41ea-8067-be349afb0e14"],
    )
    deployment = Deployment(
        "v4deploy", "https://v4deploy.emqx.cloud:8443/api/v4", "V4_KEY", "V4_SECRET", "V4_REDIS", api_version="v4"
    )
    body = link_body(network, deployment, natSubnetId=ids["subnets:subnet2"], frontendIp="10.0.1.9")
    body["emqx"] |= {
        "redisUsername": "emqx",
        "redisDatabase": 3,
        "azureSubscriptionId": SUB,
        "privateLinkIp": "10.8.0.4",
    }
    connection = ids["privateEndpointConnections:myPrivateEndpoint.7434d881-2209-45be-a41a-2b9e3fa23911"]
    status = LinkStatus(
        phase=Phase.DELETING,
        health=Health.DEGRADED,
        observed_generation=3,
        message="Waiting for EMQX to let go of its PrivateLink → still “deleting” (é)",
        resources=AzureResources(
            load_balancer_id=ResourceId.parse(ids["loadBalancers:loadbalancer"]),
            private_link_service_id=ResourceId.parse(ids["privateLinkServices:myService"]),
            frontend_ip=IPv4Address("10.0.1.9"),
        ),
        pls_alias="myService.7434d881-2209-45be-a41a-2b9e3fa23911.eastus.azure.privatelinkservice",
        load_balancer_schema=2,
        emqx_teardown_since=T0,
        emqx_teardown_stalled=True,
        connections=[
            ConnectionState(
                name=ResourceId.parse(connection).name,
                private_endpoint_id=ResourceId.parse(ids["privateEndpoints:myPrivateEndpoint"]),
                status="Approved",
                description="Approved by policy: the endpoint is in EMQX's subscription",
            )
        ],
        emqx=EmqxPrivateLink(id="pl-7434", status="deleting", ip=IPv4Address("10.8.0.4"), known_since=T0),
        last_redis_test=RedisTestResult(at=T0, passed=False, reason="NOAUTH Authentication required."),
        drift=["the NAT rule's backend port is 6380, not 6379"],
        history=[step(0), step(1, StepOutcome.WAITING, "EMQX still holds the PrivateLink")],
        updated_at=T0 + timedelta(minutes=5),
    )
    return Link(spec=spec("recorded", body), status=status, generation=3)


def running_link() -> Link:
    body = lb_rule_body()
    body["azure"] |= {"probePort": 6390, "enableProxyProtocol": True, "autoApprove": True}
    spec_ = spec("orders", body)
    status = LinkStatus(
        phase=Phase.RUNNING,
        health=Health.HEALTHY,
        observed_generation=1,
        resources=AzureResources(
            load_balancer_id=spec_.load_balancer_id, private_link_service_id=spec_.private_link_service_id
        ),
        pls_alias="pls-orders.guid.eastus.azure.privatelinkservice",
        registration_requested=True,
        connections=[
            ConnectionState(name=f"pe-{index}.{uuid.UUID(int=index)}", status="Pending") for index in range(3)
        ],
        emqx=EmqxPrivateLink(id="pl-1", status="running", ip=IPv4Address("10.8.0.9")),
        last_redis_test=RedisTestResult(at=T0, passed=True, latency_ms=1.25),
        history=[step(index) for index in range(12)],
        updated_at=T0,
    )
    return Link(spec=spec_, status=status)


def large_link() -> Link:
    """100 long NIC IDs (the desired state alone outgrows one string property) and a full status."""
    nics = [f"{NETWORK}/networkInterfaces/{index:03d}-" + "n" * 250 for index in range(100)]
    body = link_body(
        FakeNetwork(SUB, "rg-demo", "eastus", f"{NETWORK}/virtualNetworks/vnet/subnets/default", nics[0]),
        forwarding="loadBalancingRule",
        backendNicIds=nics,
    )
    text = "x" * 500
    status = LinkStatus(
        message=text,
        drift=[f"{index} {text}" for index in range(20)],
        connections=[
            ConnectionState(name=f"pe-{index}.{uuid.UUID(int=index)}", status="Pending", description=text)
            for index in range(100)
        ],
        history=[step(index, StepOutcome.FAILED, text) for index in range(MAX_HISTORY)],
    )
    return Link(spec=spec("large", body), status=status, generation=7)


def sample_links() -> list[Link]:
    awaiting = LinkStatus(phase=Phase.AWAITING_APPROVAL, pls_alias="pls-demo.guid.eastus.azure.privatelinkservice")
    awaiting.record_step(StepRecord(at=T0, step="provision", outcome=StepOutcome.SUCCEEDED, duration_ms=812.5))
    return [
        Link(spec=spec("minimal", minimal_body())),
        Link(spec=spec("guide", guide_body()), status=awaiting, generation=2),
        running_link(),
        recorded_link(),
        large_link(),
    ]


def models_view(link: Link) -> dict[str, Any]:
    """A link's view as it was made from the models: each dumped by alias, without None."""
    return {
        "name": link.name,
        "generation": link.generation,
        "spec": link.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        "status": link.status.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
