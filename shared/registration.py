"""Register a provisioned link with EMQX: restrict the PLS to EMQX's subscription and hand the alias over.

`api` mode creates the PrivateLink through this project's PrivateLink contract (finding an existing one for
the alias first, so a repeated call creates nothing); `console` mode answers with the hand-off an operator
completes in the EMQX console, after which the app carries on by itself once the connection shows up.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from shared import arm_reading
from shared.emqx import private_link_id
from shared.errors import ConflictError, InvalidRequestError, NotFoundError, OperationStillRunningError
from shared.model import Phase
from shared.provisioning import ensure_private_link_service
from shared.run import PlannedCall, Run
from shared.settings import RegistrationMode

CONSOLE_STEPS = (
    "In the EMQX Cloud console, open the deployment, then Network Management and + PrivateLink.",
    "Check that the Azure subscription ID the dialog shows is the one below (the Private Link Service already "
    "allows it), then Next Step.",
    "Paste the alias below into 'Enter the ID of Private Link Service' and choose Create PrivateLink.",
    "Nothing else: this app approves the connection when it appears and tests Redis once EMQX reports running.",
    "When the console shows the PrivateLink IP, report it with a PUT of this link setting emqx.privateLinkIp.",
)


async def verify_deployment(run: Run) -> None:
    """With a Platform API key configured: the deployment exists, runs, and is on Azure."""
    emqx, spec = run.services.emqx, run.link.spec.emqx
    if not emqx.platform_configured:
        return
    try:
        deployment = await emqx.get_deployment(spec.deployment_id)
    except NotFoundError:
        raise InvalidRequestError.from_problems(
            [("emqx.deploymentId", f"EMQX has no deployment {spec.deployment_id} visible to the Platform API key")],
            "The link",
        ) from None
    platform = str(deployment.get("platform", ""))
    if platform and "azure" not in platform.lower():
        raise InvalidRequestError.from_problems(
            [("emqx.deploymentId", f"deployment {spec.deployment_id} runs on {platform}, not on Azure")], "The link"
        )
    status = str(deployment.get("status", ""))
    if status != "running":
        raise ConflictError(
            f"EMQX deployment {spec.deployment_id} is {status or 'in an unknown state'}; register it once running.",
            code="DeploymentNotRunning",
            target="emqx.deploymentId",
        )


def same_alias(record: dict[str, Any], alias: str) -> bool:
    return str(record.get("privateLinkServiceId", "")).lower() == alias.lower()


async def register(run: Run) -> dict[str, Any]:
    """Returns the registration answer: the alias, EMQX's subscription and, in console mode, the steps left."""
    link = run.link
    status = link.status
    emqx_sub = run.emqx_subscription
    if emqx_sub is None:
        raise InvalidRequestError.from_problems(
            [
                (
                    "emqx.azureSubscriptionId",
                    "EMQX's Azure subscription is unknown: set it, or EMQX_AZURE_SUBSCRIPTION_ID",
                )
            ],
            "The link",
        )
    await verify_deployment(run)
    if status.phase.before_registration:
        run.move_to(Phase.REGISTERING, "registration with EMQX begins")
    pls = await ensure_private_link_service(run, allow_replace=False)
    state = arm_reading.provisioning_state(pls)
    if state != "Succeeded":
        # EMQX would build its private endpoint on a PLS that is not provisioned (Updating, or Failed until it is
        # PUT again): the alias goes to EMQX once ARM reports the PLS Succeeded; the next run goes on.
        raise OperationStillRunningError(
            f"The Private Link Service is {state}; its alias goes to EMQX once Azure reports it Succeeded."
        )
    alias = status.pls_alias
    if alias is None:
        raise ConflictError("The Private Link Service has no alias yet; try again shortly.", code="AliasNotReady")
    if run.settings.registration_mode is RegistrationMode.API:
        await _register_via_api(run, alias)
    elif status.phase is Phase.REGISTERING:
        run.move_to(Phase.AWAITING_CONSOLE, "the alias is handed to the operator for the EMQX console")
    if not run.dry_run:
        status.registration_requested = False
    return registration_answer(run)


def registration_answer(run: Run) -> dict[str, Any]:
    """What a register call answers for a registered link: the alias, EMQX's subscription, and EMQX's
    PrivateLink (api mode) or the steps left to the operator (console mode)."""
    status = run.link.status
    answer: dict[str, Any] = {
        "alias": status.pls_alias,
        "emqxSubscriptionId": run.emqx_subscription,
        "mode": run.settings.registration_mode.value,
    }
    if run.settings.registration_mode is RegistrationMode.API:
        answer["privateLinkId"] = status.emqx.id
        answer["emqxStatus"] = status.emqx.status
    else:
        answer["consoleSteps"] = list(CONSOLE_STEPS)
    return answer


async def _register_via_api(run: Run, alias: str) -> None:
    emqx, status = run.services.emqx, run.link.status
    deployment_id = run.link.spec.emqx.deployment_id
    existing = next(
        (record for record in await emqx.list_private_links(deployment_id) if same_alias(record, alias)), None
    )
    dry_record: dict[str, Any] = {}
    record = (
        existing
        if existing is not None
        else await run.mutate(
            PlannedCall(
                "emqx", "POST", f"deployments/{deployment_id}/privatelinks", f"create the PrivateLink to {alias}"
            ),
            partial(emqx.create_private_link, deployment_id, alias),
            dry_record,
        )
    )
    if run.dry_run:
        return
    found = private_link_id(record)
    if found != status.emqx.id:
        status.emqx.id, status.emqx.known_since = found, run.services.clock.now()
    status.emqx.status = str(record.get("status") or "") or None
    if status.phase is Phase.REGISTERING:
        run.move_to(Phase.AWAITING_APPROVAL, "EMQX has its PrivateLink; its connection is awaited")
