"""Status of asynchronous operations, as Microsoft.Network serves them.

`.../locations/{loc}/operations/{id}` (Azure-AsyncOperation) always answers 200 with `{"status"}`: InProgress with a
Retry-After that grows 10, 20, ... as recorded, then Succeeded, or Failed with an `error`, or Canceled with an
`error` when a newer write of the resource superseded it (the RPC's terminal states are Succeeded, Failed and
Canceled, and `error` is required for both of the last two: Azure/azure-resource-manager-rpc
v1.0/async-api-reference.md, "Azure-AsyncOperation Resource format").
`.../locations/{loc}/operationResults/{id}` (Location) answers 202 while running, then the final answer
(204 for a finished delete).
"""

from __future__ import annotations

from localcloud.arm import errors
from localcloud.arm.protocol import Context, Reply, retry_headers

MAX_RETRY_AFTER = 60


def operation_status(ctx: Context, subscription: str, operation_id: str, *, results: bool) -> Reply:
    operation = ctx.state.operations.get(operation_id)
    if operation is None or operation.subscription.lower() != subscription.lower():
        raise errors.ArmError(404, "NotFound", f"Operation {operation_id} was not found.", details=[])
    if operation.status == "InProgress":
        operation.polls += 1
        headers = retry_headers(ctx.rt.speed, min(operation.retry_after * operation.polls, MAX_RETRY_AFTER))
        if results:
            return Reply(202, None, {"Location": ctx.url, **headers})
        return Reply(200, {"status": "InProgress"}, headers)
    if operation.status in ("Failed", "Canceled"):
        error = operation.error or {"code": "InternalServerError", "message": "The operation failed."}
        if results:
            raise errors.ArmError(500, error["code"], error["message"], details=error.get("details", []))
        return Reply(200, {"status": operation.status, "error": error})
    if results:
        return Reply(204 if operation.deletes else 200)
    return Reply(200, {"status": "Succeeded"})
