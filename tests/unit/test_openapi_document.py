"""The committed OpenAPI document (functions/openapi.json): valid OpenAPI 3.1, one operation per registered HTTP
function and nothing else, the link schemas equal to the link model's, and the bodies the app answers valid
against it. After a change to the link model, regenerate the model's schemas in the document with
`.venv/bin/python -m tests.unit.test_openapi_document`.
"""

import json
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from pydantic.json_schema import models_json_schema

from functions import openapi
from localcloud.functions_host.keys import AuthLevel
from localcloud.functions_host.loading import IndexedFunction, index_function_app
from shared.errors import ConflictError, InvalidRequestError, error_body
from shared.lifecycle import link_view
from shared.model import Link, LinkSpec, LinkStatus, RedisTestResult, StepOutcome, StepRecord
from shared.run import PlannedCall, plan_json
from tests.bodies import Deployment, FakeNetwork, link_body

DOCUMENT: dict[str, Any] = json.loads(openapi.DOCUMENT.read_text(encoding="utf-8"))
OPERATION_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})

SUB = "11111111-2222-3333-4444-555555555555"
GROUP = f"/subscriptions/{SUB}/resourceGroups/rg-redis/providers/Microsoft.Network"
SPEC = link_body(
    FakeNetwork(
        SUB, "rg-redis", "eastus", f"{GROUP}/virtualNetworks/vnet/subnets/pls", f"{GROUP}/networkInterfaces/redis-nic"
    ),
    Deployment(
        "w41b11c0",
        "https://w41b11c0.eastus.azure.emqx.cloud:8443/api/v5",
        "EMQX_DEPLOYMENT_KEY_ORDERS",
        "EMQX_DEPLOYMENT_SECRET_ORDERS",
        "REDIS_PASSWORD_ORDERS",
    ),
)


def model_schemas() -> dict[str, Any]:
    """The link model's JSON schemas by alias, as the document's components hold them."""
    _, schemas = models_json_schema(
        [(LinkSpec, "validation"), (LinkStatus, "validation")],
        by_alias=True,
        ref_template="#/components/schemas/{model}",
    )
    return dict(schemas["$defs"])


def http_functions() -> dict[tuple[str, str], IndexedFunction]:
    """`(path, method) -> function` for every HTTP trigger of `function_app.app`, indexed as the host does.

    Through the localcloud host's index: `FunctionApp.get_functions()` answers only once per process.
    """
    functions = index_function_app("function_app:app", {"MONITOR_SCHEDULE": "0 */5 * * * *"}, route_prefix="")
    return {
        ("/" + function.http.template.text, method.lower()): function
        for function in functions
        if function.http is not None
        for method in function.http.methods or ()
    }


def documented_operations() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method): operation
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        if method in OPERATION_METHODS
    }


def validator(schema_name: str) -> Draft202012Validator:
    # References resolve against this root, which carries the document's components.
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": DOCUMENT["components"]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")
    validate(DOCUMENT)


def test_every_http_function_is_documented_and_nothing_else() -> None:
    documented = {key: operation["operationId"] for key, operation in documented_operations().items()}
    assert documented == {key: function.name for key, function in http_functions().items()}


def test_every_operation_needs_a_function_key() -> None:
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert {(s["in"], s["name"]) for s in schemes.values()} == {("header", "x-functions-key"), ("query", "code")}
    assert DOCUMENT["security"] == [{name: []} for name in schemes]
    for operation in documented_operations().values():
        assert "security" not in operation
        assert "401" in operation["responses"]
    for function in http_functions().values():
        assert function.http is not None
        assert function.http.auth_level is AuthLevel.FUNCTION, function.name


def test_the_link_schemas_are_the_models() -> None:
    documented = DOCUMENT["components"]["schemas"]
    for name, schema in model_schemas().items():
        assert documented.get(name) == schema, f"{name} differs from the model: regenerate (see the module doc)"
    body = DOCUMENT["paths"]["/links/{name}"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/LinkSpec"}


@pytest.mark.parametrize(
    ("path", "method", "parameters"),
    [
        ("/links/{name}", "put", {"dryRun", "allowReplace"}),
        ("/links/{name}", "delete", {"force", "emqxRemoved", "dryRun"}),
        ("/links", "get", {"top", "skipToken"}),
    ],
)
def test_the_query_parameters_the_adapters_read_are_documented(path: str, method: str, parameters: set[str]) -> None:
    given = DOCUMENT["components"]["parameters"]
    names = {given[p["$ref"].rsplit("/", 1)[-1]]["name"] for p in DOCUMENT["paths"][path][method]["parameters"]}
    assert names == parameters


def test_error_bodies_match_the_error_schema() -> None:
    invalid = InvalidRequestError.from_problems([("azure.frontendPort", "must be 1-65534"), ("name", "is required")])
    conflict = ConflictError("Link x is being deleted.", code="LinkBeingDeleted", target="name")
    for error in (invalid, conflict):
        validator("ErrorResponse").validate(error_body(error))


def test_link_answers_match_their_schemas() -> None:
    link = Link(spec=LinkSpec.model_validate({"name": "orders", **SPEC}))
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    link.status.record_step(StepRecord(at=now, step="PUT lb-orders", outcome=StepOutcome.SUCCEEDED, duration_ms=12))
    link.status.last_redis_test = RedisTestResult(at=now, passed=True, latency_ms=3.5)
    view = link_view(link)
    validator("LinkView").validate(view)
    validator("LinkList").validate({"value": [view], "nextLink": "https://app/api/links?top=1&skipToken=abc"})
    validator("LinkAccepted").validate(view | {"message": "Azure is still working."})
    plan = plan_json([PlannedCall("arm", "PUT", f"{GROUP}/loadBalancers/lb-orders", "create the load balancer")])
    validator("DryRunPlan").validate({"name": "orders", "dryRun": True, "plan": plan})


def test_a_body_against_the_schema_fails_when_it_should() -> None:
    with pytest.raises(Exception, match="'code' is a required property"):
        validator("ErrorResponse").validate({"error": {"message": "no code"}})


def test_the_blueprint_serves_the_document() -> None:
    response = openapi.openapi(func.HttpRequest(method="GET", url="/api/openapi.json", body=b""))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert json.loads(response.get_body()) == DOCUMENT


if __name__ == "__main__":
    DOCUMENT["components"]["schemas"].update(model_schemas())
    openapi.DOCUMENT.write_text(json.dumps(DOCUMENT, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
