"""Which ARM errors the app takes as temporary (the next run makes the write again) and which as permanent,
including the error azure-core raises from `poller.result()` when an operation ends Failed or Canceled: the status
poll's 200 with the operation's `error` (tests/localcloud/arm/test_arm_failures.py shows it over the wire).
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ODataV4Format

from shared.azure_network import map_arm_error
from shared.errors import InvalidRequestError, TemporaryError, UpstreamError


def arm_error(status: int, error: dict[str, Any]) -> HttpResponseError:
    raised = HttpResponseError(message=error["message"])
    raised.status_code = status
    raised.error = ODataV4Format({"error": error})
    return raised


def detail(code: str) -> dict[str, str]:
    return {"code": code, "message": "..."}


TEMPORARY = [
    # An operation superseded by a newer write (radius-project/radius azure_containerlb.go).
    (
        200,
        {
            "code": "Canceled",
            "message": "Operation was canceled.",
            "details": [detail("CanceledAndSupersededDueToAnotherOperation")],
        },
    ),
    # An operation ending Failed, or a 429 (hashicorp/terraform-provider-azurerm#70).
    (200, {"code": "RetryableError", "message": "A retryable error occurred.", "details": []}),
    (
        429,
        {
            "code": "RetryableError",
            "message": "A retryable error occurred.",
            "details": [detail("ReferencedResourceNotProvisioned")],
        },
    ),
    (
        409,
        {
            "code": "AnotherOperationInProgress",
            "message": "Another operation on this or dependent resource is in progress.",
        },
    ),
    (200, {"code": "RetryableErrorDueToAnotherOperation", "message": "..."}),
    # A referenced resource left Failed, repaired by the next run's PUT of it (kubernetes/kubernetes#65025).
    (
        400,
        {
            "code": "ReferencedResourceNotProvisioned",
            "message": "Cannot proceed with operation because ...",
            "details": [],
        },
    ),
]


@pytest.mark.parametrize(("status", "error"), TEMPORARY, ids=[f"{s}-{e['code']}" for s, e in TEMPORARY])
def test_temporary(status: int, error: dict[str, Any]) -> None:
    mapped = map_arm_error(arm_error(status, error), "create or update load balancer lb")
    assert isinstance(mapped, TemporaryError)
    assert mapped.code == error["code"]


def test_an_operation_failed_for_good_is_an_upstream_failure() -> None:
    mapped = map_arm_error(arm_error(200, {"code": "InternalServerError", "message": "boom"}), "update the NIC")
    assert type(mapped) is UpstreamError


def test_a_bad_request_stays_permanent() -> None:
    mapped = map_arm_error(arm_error(400, {"code": "InvalidResourceReference", "message": "no"}), "update the NIC")
    assert type(mapped) is InvalidRequestError
