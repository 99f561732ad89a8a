"""Fuzz the HTTP API from its OpenAPI document against localcloud: no 5xx, answers as documented, no secret.

Schemathesis generates requests from `functions/openapi.json` (valid and invalid bodies, odd names and query
values) and checks every answer against the document: status code, body schema, content type.
"""

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.world import World

DOCUMENT = Path(__file__).resolve().parents[2] / "functions" / "openapi.json"
schema = schemathesis.openapi.from_path(DOCUMENT)
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
)


def secrets_of(world: World) -> list[str]:
    emqx = world.endpoints["emqx"]
    return [
        world.endpoints["redis"]["password"],
        emqx["platformApiSecret"],
        emqx["deploymentApiSecret"],
        emqx["v4DeploymentApiSecret"],
        world.endpoints["storage"]["connectionString"].split("AccountKey=")[1].split(";")[0],
    ]


@pytest.fixture(scope="module")
def api_base(world: World) -> str:
    return f"{world.endpoints['functions']['baseUrl']}/api"


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_api_holds_to_its_document(case: schemathesis.Case, world: World, api_base: str) -> None:
    response = case.call(base_url=api_base, headers={"x-functions-key": world.function_key}, timeout=60)
    case.validate_response(response, checks=CHECKS)
    for secret in secrets_of(world):
        assert secret not in response.text
