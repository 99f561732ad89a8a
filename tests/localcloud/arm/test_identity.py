"""The managed identity endpoint (App Service protocol) and ARM's checks of the tokens it issues."""

from __future__ import annotations

import httpx
from azure.identity import DefaultAzureCredential
from azure.mgmt.network import NetworkManagementClient

from tests.localcloud.arm.support import (
    ARM_SCOPE,
    EMQX_CLIENT,
    FUNCTION_APP,
    IDENTITY_HEADER,
    PROVIDER_SUB,
    RG,
    Cloud,
)

LBS = f"/subscriptions/{PROVIDER_SUB}/resourceGroups/{RG}/providers/Microsoft.Network/loadBalancers"


def ask(cloud: Cloud, *, header: str | None = IDENTITY_HEADER, **params: str) -> httpx.Response:
    query = {"api-version": "2019-08-01", "resource": "https://management.azure.com", **params}
    headers = {"X-IDENTITY-HEADER": header} if header is not None else {}
    return httpx.get(cloud.identity, params={k: v for k, v in query.items() if v}, headers=headers)


def test_token_answer_has_the_app_service_shape(cloud: Cloud):
    answer = ask(cloud)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert body["expires_on"].isdigit() and body["token_type"] == "Bearer"
    assert (body["resource"], body["client_id"]) == ("https://management.azure.com", FUNCTION_APP)
    assert ask(cloud, client_id=EMQX_CLIENT).json()["client_id"] == EMQX_CLIENT


def test_token_requests_that_are_refused(cloud: Cloud):
    assert ask(cloud, header=None).status_code == 401
    assert ask(cloud, header="wrong").status_code == 401
    assert ask(cloud, client_id="00000000-0000-0000-0000-00000000beef").status_code == 400
    assert ask(cloud, resource="").status_code == 400
    assert ask(cloud, **{"api-version": "2017-09-01"}).status_code == 400


def test_arm_refuses_missing_malformed_and_foreign_tokens(cloud: Cloud):
    with httpx.Client(base_url=cloud.arm, verify=cloud.tls) as http:
        cases = {
            None: "AuthenticationFailed",
            "Basic abc": "AuthenticationFailed",
            "Bearer not-a-jwt": "InvalidAuthenticationToken",
            f"Bearer {cloud.token(resource='https://storage.azure.com')}": "InvalidAuthenticationTokenAudience",
        }
        for authorization, code in cases.items():
            headers = {"Authorization": authorization} if authorization else {}
            answer = http.get(LBS, params={"api-version": "2024-05-01"}, headers=headers)
            assert answer.status_code == 401
            assert answer.json()["error"]["code"] == code
            assert answer.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")


def test_expired_tokens(held_cloud: Cloud):
    token = held_cloud.token()
    assert held_cloud.clock is not None
    held_cloud.clock.advance(2 * 86400)
    with httpx.Client(base_url=held_cloud.arm, verify=held_cloud.tls) as http:
        answer = http.get(LBS, params={"api-version": "2024-05-01"}, headers={"Authorization": f"Bearer {token}"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "ExpiredAuthenticationToken")


def test_api_version_is_required_and_any_is_accepted(cloud: Cloud):
    with cloud.http() as http:
        answer = http.get(LBS)
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "MissingApiVersionParameter")
        for version in ("2018-01-01", "2024-05-01", "2026-03-01"):
            assert http.get(LBS, params={"api-version": version}).status_code == 200


def test_arm_response_headers(held_cloud: Cloud):
    """Request ids, and the token-bucket headers (test_throttling.py): a fresh read bucket answers 249, then 248."""
    with held_cloud.http() as http:
        first = http.get(LBS, params={"api-version": "2024-05-01"}, headers={"x-ms-correlation-request-id": "c0ffee"})
        second = http.get(LBS, params={"api-version": "2024-05-01"})
    assert first.headers["x-ms-correlation-request-id"] == "c0ffee"
    assert first.headers["x-ms-request-id"] != second.headers["x-ms-request-id"]
    assert second.headers["x-ms-correlation-request-id"] not in ("", "c0ffee")
    assert [int(a.headers["x-ms-ratelimit-remaining-subscription-reads"]) for a in (first, second)] == [249, 248]
    assert [int(a.headers["x-ms-ratelimit-remaining-subscription-global-reads"]) for a in (first, second)] == [
        3749,
        3748,
    ]


def test_default_azure_credential_reaches_arm(cloud: Cloud):
    credential = DefaultAzureCredential(
        exclude_cli_credential=True,
        exclude_powershell_credential=True,
        exclude_developer_cli_credential=True,
        exclude_visual_studio_code_credential=True,
        exclude_shared_token_cache_credential=True,
    )
    with (
        credential,
        NetworkManagementClient(
            credential,
            PROVIDER_SUB,
            base_url=cloud.arm,
            credential_scopes=[ARM_SCOPE],
            connection_verify=cloud.ca_bundle,
        ) as network,
    ):
        assert list(network.load_balancers.list(RG)) == []
