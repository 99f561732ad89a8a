"""A token from localcloud's managed identity endpoint, as the App Service protocol hands one out (for tests that
call a stand-in the way the app's credential would)."""

import httpx


def token_from(identity_endpoint: str, identity_header: str, client_id: str, resource: str) -> str:
    answer = httpx.get(
        identity_endpoint,
        params={"api-version": "2019-08-01", "resource": resource, "client_id": client_id},
        headers={"X-IDENTITY-HEADER": identity_header},
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])
