"""What the custom topic refuses, with Event Grid's statuses and error bodies (localcloud/eventgrid/wire.py cites
the captured answers each shape comes from)."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import httpx
import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.eventgrid.aio import EventGridPublisherClient
from azure.identity.aio import ManagedIdentityCredential

from localcloud.identity import ManagedIdentity, TokenAuthority
from tests.localcloud.eventgrid.support import (
    APP,
    EVENTGRID_RESOURCE,
    OTHER,
    TENANT,
    TOKEN_KEY,
    TOPIC_ID,
    Cloud,
    cloud_event,
    publisher,
)

# The 413 body of the service, byte for byte: azure-sdk-for-python sdk/eventgrid/azure-eventgrid/tests/recordings/
# test_exceptions.pyTestEventGridPublisherClientExceptionstest_raise_on_large_payload.json (2022-01-14).
RECORDED_413 = base64.b64decode(
    "ew0KICAgICJlcnJvciI6IHsNCiAgICAgICAgImNvZGUiOiAiUmVxdWVzdEVudGl0eVRvb0xhcmdlIiwNCiAgICAgICAgIm1lc3NhZ2UiOiAi"
    "VGhlIG1heGltdW0gc2l6ZSAoMTUzNjAwMCkgaGFzIGJlZW4gZXhjZWVkZWQuIiwNCiAgICAgICAgImRldGFpbHMiOiBbew0KICAgICAgICAg"
    "ICAgImNvZGUiOiAiUGF5bG9hZFRvb0xhcmdlIiwNCiAgICAgICAgICAgICJtZXNzYWdlIjogIlRoZSBtYXhpbXVtIHNpemUgKDE1MzYwMDAp"
    "IGhhcyBiZWVuIGV4Y2VlZGVkLiINCiAgICB9XQ0KICB9DQp9"
)
REPORT = re.compile(
    r" Report '(?P<id>[0-9a-f-]{36}):1:\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M \(UTC\)' to our forums for "
    r"assistance or raise a support ticket\.$"
)
CONTENT_TYPE_MESSAGE = (
    "The Content-Type header is either missing or it doesn't have a valid value. The content type header must either "
    "be application/cloudevents+json; charset=utf-8 or application/cloudevents-batch+json; charset=UTF-8."
)


def minted(authority: TokenAuthority) -> str:
    """A token for the app's identity and Event Grid's audience, from an authority other than the stack's."""
    return authority.issue(ManagedIdentity(client_id=APP, scopes=()), EVENTGRID_RESOURCE)[0]


def refusal(answer: httpx.Response, status: int, code: str, detail_code: str) -> str:
    """Check Event Grid's error shape and headers; the message without its report suffix."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    assert answer.text.startswith('{\r\n    "error": {\r\n        "code": ')
    error = answer.json()["error"]
    assert (error["code"], [d["code"] for d in error["details"]]) == (code, [detail_code])
    assert error["details"][0]["message"] == error["message"]
    report = REPORT.search(error["message"])
    assert report is not None, error["message"]
    assert report["id"] == answer.headers["x-ms-request-id"]
    return str(error["message"][: report.start()])


def batch(*events: Any) -> str:
    return json.dumps(list(events))


# Content type


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/xml", "application/cloudevents-batch+json; charset=utf-16", "multipart/mixed"],
)
def test_a_content_type_other_than_cloud_events_is_415(cloud: Cloud, content_type: str | None) -> None:
    answer = cloud.post(batch(cloud_event()), content_type=content_type)
    assert refusal(answer, 415, "UnsupportedMediaType", "UnsupportedMediaType") == CONTENT_TYPE_MESSAGE
    [entry] = cloud.publishes()
    assert (entry["status"], entry["events"], cloud.events()) == (415, [], [])


def test_a_batch_content_type_needs_an_array_and_a_single_one_an_object(cloud: Cloud) -> None:
    answer = cloud.post(json.dumps(cloud_event()))
    assert refusal(answer, 400, "BadRequest", "InputJsonInvalid") == (
        "This resource is configured to receive event in 'CloudEventV10' schema. The JSON received does not conform "
        "to the expected schema. Token Expected: StartArray, Actual Token Received: StartObject."
    )
    # Azure/azure-sdk-for-python#15941, as the service words it.
    answer = cloud.post(batch(cloud_event()), content_type="application/cloudevents+json; charset=utf-8")
    assert refusal(answer, 400, "BadRequest", "InputJsonInvalid") == (
        "This resource is configured to receive event in 'CloudEventV10' schema. The JSON received does not conform "
        "to the expected schema. Token Expected: StartObject, Actual Token Received: StartArray."
    )
    answer = cloud.post(batch(cloud_event(), "not an event"))
    assert refusal(answer, 400, "BadRequest", "InputJsonInvalid").endswith(
        "Token Expected: StartObject, Actual Token Received: String."
    )


def test_json_that_does_not_parse_is_400(cloud: Cloud) -> None:
    for body in (b"[{", b"\xff\xfe[]", b""):
        answer = cloud.post(body)
        assert refusal(answer, 400, "BadRequest", "InputJsonInvalid").startswith(
            "This resource is configured to receive event in 'CloudEventV10' schema. The JSON received could not be "
            "parsed."
        )


# CloudEvents attributes


@pytest.mark.parametrize("attribute", ["id", "source", "type", "specversion"])
def test_each_required_attribute_must_be_set(cloud: Cloud, attribute: str) -> None:
    for value in (None, "", 17):
        answer = cloud.post(batch(cloud_event(1), {**cloud_event(2), attribute: value}))
        if value is None:
            answer = cloud.post(batch({k: v for k, v in cloud_event(2).items() if k != attribute}))
        assert refusal(answer, 400, "BadRequest", "InputJsonInvalid") == (
            f"This resource is configured for 'CloudEventV10' schema and requires '{attribute}' property to be set."
        )
    # A refused batch is refused whole: nothing of it is recorded as published.
    assert cloud.events() == []


def test_the_spec_version_is_1_0(cloud: Cloud) -> None:
    answer = cloud.post(batch(cloud_event(1, specversion="0.3")))
    assert refusal(answer, 400, "BadRequest", "InputJsonInvalid") == (
        "This resource is configured for 'CloudEventV10' schema and requires 'specversion' property to be '1.0', "
        "not '0.3'."
    )


async def test_the_sdk_sends_a_dict_without_source_as_a_custom_event_which_the_topic_refuses(cloud: Cloud) -> None:
    """The SDK only recognizes a dict with all four attributes as a CloudEvent; anything else goes out as
    `application/json`, which a CloudEvents topic reads as one event: the service's answer of
    Azure/azure-sdk-for-python#15941."""
    event = {k: v for k, v in cloud_event().items() if k != "source"}
    async with publisher(cloud) as client:
        with pytest.raises(HttpResponseError) as refused:
            await client.send([event])
    assert refused.value.status_code == 400
    assert "Token Expected: StartObject, Actual Token Received: StartArray." in str(refused.value.message)
    assert cloud.publishes()[0]["contentType"] == "application/json; charset=utf-8"


# Size


def test_a_request_over_1536000_bytes_is_413_with_the_recorded_body(cloud: Cloud) -> None:
    events = [cloud_event(n, data={"blob": "x" * 520_000}) for n in range(1, 4)]  # each event well under 1 MB
    body = batch(*events)
    assert len(body) > 1_536_000
    answer = cloud.post(body)
    assert (answer.status_code, answer.content) == (413, RECORDED_413)
    assert "content-type" not in answer.headers  # as recorded
    [entry] = cloud.publishes()
    assert (entry["status"], entry["contentLength"], entry["error"]["detailCode"]) == (
        413,
        len(body),
        "PayloadTooLarge",
    )


def test_up_to_the_request_limit_is_accepted(cloud: Cloud) -> None:
    """Beyond the documented 1 MB: the service takes a request up to 1,536,000 bytes (wire.py)."""
    events = [cloud_event(n, data={"blob": "x" * 700_000}) for n in range(1, 3)]
    body = batch(*events)
    assert 1_048_576 < len(body) <= 1_536_000
    assert cloud.post(body).status_code == 200
    assert len(cloud.events()) == 2


def test_one_event_over_1049600_bytes_is_413(cloud: Cloud) -> None:
    event = cloud_event(1, data={"blob": "x" * 1_049_600})
    answer = cloud.post(batch(event))
    assert answer.status_code == 413
    assert json.loads(answer.content)["error"]["message"] == "The maximum size (1049600) has been exceeded."
    assert cloud.events() == []


# aiohttp warns that a body this large is sent from memory; the SDK's own choice.
@pytest.mark.filterwarnings("ignore:Sending a large body directly:ResourceWarning")
async def test_the_sdk_raises_the_services_413(cloud: Cloud) -> None:
    """As azure-sdk-for-python's own test_raise_on_large_payload asserts against the service."""
    async with publisher(cloud, retry_total=0) as client:
        with pytest.raises(HttpResponseError) as refused:
            await client.send([cloud_event(n, data={"blob": "x" * 600_000}) for n in range(1, 4)])
    assert refused.value.status_code == 413
    assert "The maximum size (1536000) has been exceeded." in str(refused.value.message)


# Credentials


def test_no_credential_is_401(cloud: Cloud) -> None:
    with httpx.Client(verify=cloud.tls) as client:
        answer = client.post(
            cloud.endpoint,
            params={"api-version": "2018-01-01"},
            content=batch(cloud_event()),
            headers={"Content-Type": "application/cloudevents-batch+json; charset=utf-8"},
        )
    assert refusal(answer, 401, "Unauthorized", "Unauthorized") == (
        "Request must contain one of the following authorization signature: aeg-sas-token, aeg-sas-key."
    )
    assert cloud.publishes()[0]["credential"] is None


async def test_an_access_key_is_refused_the_topic_takes_entra_id_only(cloud: Cloud) -> None:
    async with EventGridPublisherClient(
        cloud.endpoint, AzureKeyCredential("a-key"), connection_verify=cloud.ca_bundle
    ) as client:
        with pytest.raises(ClientAuthenticationError) as refused:
            await client.send([cloud_event()])
    assert "The request authorization key is not authorized for 127.0.0.1." in str(refused.value.message)
    [entry] = cloud.publishes()
    assert (entry["status"], entry["credential"], entry["principal"]) == (401, "aeg-sas-key", None)


def test_a_token_that_is_not_the_identity_endpoints_is_401(cloud: Cloud) -> None:
    for token in ("not-a-jwt", minted(TokenAuthority(key="another key", tenant_id=TENANT))):
        answer = cloud.post(batch(cloud_event()), token=token)
        assert refusal(answer, 401, "Unauthorized", "Unauthorized") == (
            "The request authorization key is not authorized for 127.0.0.1. This is due to the reason: The access "
            "token is invalid."
        )


def test_an_expired_token_or_another_tenants_is_401(cloud: Cloud) -> None:
    yesterday = TokenAuthority(key=TOKEN_KEY, tenant_id=TENANT, clock=lambda: time.time() - 2 * 86400)
    answer = cloud.post(batch(cloud_event()), token=minted(yesterday))
    assert "This is due to the reason: The access token expiry UTC time" in refusal(
        answer, 401, "Unauthorized", "Unauthorized"
    )
    elsewhere = TokenAuthority(key=TOKEN_KEY, tenant_id="00000000-0000-4000-8000-000000000bad")
    answer = cloud.post(batch(cloud_event()), token=minted(elsewhere))
    assert "The access token is from the wrong issuer" in refusal(answer, 401, "Unauthorized", "Unauthorized")


def test_a_token_for_another_audience_is_401(cloud: Cloud) -> None:
    """The identity endpoint issues ARM a token as readily as Event Grid; the topic takes only its own audience."""
    answer = cloud.post(batch(cloud_event()), token=cloud.token(resource="https://management.azure.com"))
    message = refusal(answer, 401, "Unauthorized", "Unauthorized")
    assert "wrong audience or resource 'https://management.azure.com'" in message
    assert "'https://eventgrid.azure.net'" in message
    assert cloud.events() == []


async def test_an_identity_without_the_data_sender_role_is_401_with_the_recorded_message(cloud: Cloud) -> None:
    async with publisher(cloud, ManagedIdentityCredential(client_id=OTHER)) as client:
        with pytest.raises(ClientAuthenticationError) as refused:
            await client.send([cloud_event()])
    # azure-sdk-for-python test_send_token_credential recording (2021-11-17): the principal message, the topic's id.
    assert (
        "The principal associated with access token presented with the incoming request does not have permission to "
        f"send data to {TOPIC_ID}. Report '"
    ) in str(refused.value.message)
    # Granting the role (EventGrid Data Sender) lets it publish.
    with cloud.control() as control:
        assert control.put("/senders", json={"senders": [OTHER]}).json() == {"senders": [OTHER]}
    async with publisher(cloud, ManagedIdentityCredential(client_id=OTHER)) as client:
        await client.send([cloud_event()])
    assert cloud.events()[0]["clientId"] == OTHER
    with cloud.control() as control:
        assert control.delete("/senders").status_code == 204
        assert OTHER not in control.get("/senders").json()["senders"]


# Routes and api-version


def test_other_paths_are_404_and_other_methods_405(cloud: Cloud) -> None:
    answer = cloud.post(batch(cloud_event()), path="/")
    message = answer.json()["error"]["message"]
    assert (answer.status_code, answer.json()["error"]["details"][0]["code"]) == (404, "ResourceNotFound")
    # recording_does_not_append_apievents.json: the URI with its query, the report without a number.
    assert message.startswith(f"No HTTP resource was found that matches the request URI '{cloud.topic}/?api-version=")
    assert re.search(r"Report '[0-9a-f-]{36}:\d{1,2}/\d{1,2}/\d{4} ", message)
    with httpx.Client(verify=cloud.tls) as client:
        answer = client.get(cloud.endpoint, params={"api-version": "2018-01-01"})
    assert refusal(answer, 405, "MethodNotAllowed", "MethodNotAllowed") == (
        "The requested resource does not support http method 'GET'."
    )
    assert answer.headers["allow"] == "POST"


def test_the_api_version_is_2018_01_01(cloud: Cloud) -> None:
    answer = cloud.post(batch(cloud_event()), params={})
    assert refusal(answer, 400, "BadRequest", "ApiVersionUnspecified") == (
        "An API version is required, but was not specified."
    )
    answer = cloud.post(batch(cloud_event()), params={"api-version": "2024-06-01"})
    assert refusal(answer, 400, "BadRequest", "UnsupportedApiVersion").endswith(
        "does not support the API version '2024-06-01'."
    )
