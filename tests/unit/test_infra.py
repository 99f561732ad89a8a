"""The deployment: azure.yaml, the Bicep templates and the hooks agree with each other and with the app.

No Bicep compiler installs from the registries this project uses, so the templates are read with pycep, the
parser checkov scans them with: a template pycep cannot parse would go unscanned, so every one must parse.
"""

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pycep import BicepParser

from localcloud.functions_host.loading import TriggerKind, index_function_app
from shared.lifecycle import ACCEPTED_EVENTS

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
SCRIPTS = INFRA / "scripts"
TEMPLATES = sorted(INFRA.rglob("*.bicep"))
# Set by azd itself for hooks and parameter files, not by a template output.
AZD_VARIABLES = frozenset({"AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_SUBSCRIPTION_ID", "AZURE_PRINCIPAL_ID"})
AZD_REFERENCE = re.compile(r"\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?:=(?P<default>[^}]*))?\}")


@cache
def parser() -> BicepParser:
    return BicepParser()


@cache
def template(relative: str) -> dict[str, Any]:
    return parser().parse(file_path=INFRA / relative)


def resource(relative: str, name: str) -> dict[str, Any]:
    config: dict[str, Any] = template(relative)["resources"][name]["config"]
    # A conditional or looped resource nests its body one level down.
    return config["config"] if "condition" in config and "config" in config else config


def azure_yaml() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))


def script_variables(script: Path) -> set[str]:
    code = "\n".join(line for line in script.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    return set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", code))


@pytest.mark.parametrize("path", TEMPLATES, ids=[str(path.relative_to(INFRA)) for path in TEMPLATES])
def test_every_template_parses_and_its_modules_exist(path: Path) -> None:
    parsed = template(str(path.relative_to(INFRA)))
    for module in parsed.get("modules", {}).values():
        assert (path.parent / module["detail"]["path"]).is_file()


def test_azure_yaml_deploys_this_folder_as_a_python_function_app() -> None:
    config = azure_yaml()
    assert config["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    services = config["services"]
    assert list(services) == ["api"]
    assert services["api"] == {"project": ".", "language": "python", "host": "function"}
    assert (ROOT / "function_app.py").is_file()
    tags = resource("modules/function-app.bicep", "site")["tags"]["function"]["parameters"]["arg_2"]
    assert tags == {"'azd-service-name'": "api"}, "azd finds the app by this tag"


def test_the_postdeploy_hook_is_an_executable_script() -> None:
    hook = azure_yaml()["hooks"]["postdeploy"]["posix"]
    script = ROOT / hook["run"]
    assert script == SCRIPTS / "postdeploy.sh"
    assert os.access(script, os.X_OK)
    assert hook["continueOnError"] is False


def test_the_parameters_file_covers_the_required_parameters_and_defaults_agree() -> None:
    parameters = template("main.bicep")["parameters"]
    given = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert set(given) <= set(parameters)
    assert {name for name, parameter in parameters.items() if parameter["default"] is None} <= set(given)
    for name, value in given.items():
        reference = AZD_REFERENCE.fullmatch(value["value"])
        assert reference is not None, name
        default = parameters[name]["default"]
        if reference["default"] is not None:
            expected = str(default).lower() if isinstance(default, bool) else str(default)
            assert reference["default"] == expected, name


def test_the_hooks_use_only_outputs_of_main_bicep_and_azd_variables() -> None:
    outputs = set(template("main.bicep")["outputs"])
    for script in (SCRIPTS / "postdeploy.sh", SCRIPTS / "set-secret.sh"):
        unknown = script_variables(script) - outputs - AZD_VARIABLES
        assert unknown == set(), f"{script.name} reads {sorted(unknown)}"


def test_the_function_app_runs_python_on_flex_consumption_as_the_managed_identity() -> None:
    plan = resource("modules/function-app.bicep", "plan")
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    site = resource("modules/function-app.bicep", "site")
    assert site["kind"] == "functionapp,linux"
    assert site["identity"]["type"] == "UserAssigned"
    properties = site["properties"]
    assert properties["httpsOnly"] is True
    assert properties["keyVaultReferenceIdentity"] == "identityId"
    assert properties["functionAppConfig"]["runtime"] == {"name": "python", "version": "pythonVersion"}
    assert properties["functionAppConfig"]["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"


def test_the_identity_gets_the_data_roles_it_needs() -> None:
    storage = template("modules/storage.bicep")
    assert resource("modules/storage.bicep", "account")["properties"]["allowSharedKeyAccess"] is False
    assert storage["variables"]["storageTableDataContributor"]["value"] == "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
    assert storage["variables"]["storageBlobDataOwner"]["value"] == "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
    vault = template("modules/keyvault.bicep")
    assert resource("modules/keyvault.bicep", "vault")["properties"]["enableRbacAuthorization"] is True
    assert vault["variables"]["keyVaultSecretsUser"]["value"] == "4633458b-17de-408a-b874-0445c86b69e6"


def test_events_reach_the_approve_function_filtered_to_private_link_services() -> None:
    functions = index_function_app("function_app:app", {"MONITOR_SCHEDULE": "0 */5 * * * *"}, route_prefix="")
    assert any(function.name == "approve" and function.kind is TriggerKind.EVENT_GRID for function in functions)
    topic = resource("modules/eventgrid-topic.bicep", "topic")
    assert topic["properties"]["topicType"] == "Microsoft.Resources.ResourceGroups"
    subscription = resource("modules/eventgrid-subscription.bicep", "subscription")["properties"]
    endpoint = subscription["destination"]["properties"]["endpointUrl"]
    assert endpoint.startswith("https://${functionAppHostName}/runtime/webhooks/eventgrid?functionName=approve&code=")
    included = subscription["filter"]["includedEventTypes"]
    assert set(included) == {
        "Microsoft.Resources.ResourceWriteSuccess",
        "Microsoft.Resources.ResourceDeleteSuccess",
        "Microsoft.Resources.ResourceActionSuccess",
    }
    assert set(included) <= ACCEPTED_EVENTS, "the approver would ignore them"
    assert subscription["filter"]["subjectBeginsWith"] == (
        "${subscription().id}/resourceGroups/${resourceGroup().name}/providers/Microsoft.Network/privateLinkServices"
    )
    dead_letter = subscription["deadLetterWithResourceIdentity"]["deadLetterDestination"]
    assert dead_letter["endpointType"] == "StorageBlob"


def test_the_postdeploy_hook_passes_the_event_grid_key_and_the_template_parameters() -> None:
    script = (SCRIPTS / "postdeploy.sh").read_text(encoding="utf-8")
    assert '--query "systemKeys.eventgrid_extension"' in script
    assert "--template-file" in script and "eventgrid.bicep" in script
    deployment = script.split("az deployment sub create", 1)[1]
    passed = set(re.findall(r"\b([a-z][A-Za-z]+)=\"", deployment))
    passed |= set(re.findall(r'"([a-z][A-Za-z]+)": \{\n\s*"value"', script))
    assert passed == set(template("eventgrid.bicep")["parameters"])


def test_set_secret_names_secrets_as_the_app_settings_reference_them() -> None:
    script = (SCRIPTS / "set-secret.sh").read_text(encoding="utf-8")
    assert "tr 'A-Z_' 'a-z-'" in script
    link_secret = template("modules/function-app.bicep")["variables"]["linkSecretSettings"]["value"]["config"]
    assert "secrets/${replace(toLower(setting), '_', '-')}/" in link_secret["value"]


def test_entra_id_authentication_is_switched_by_the_parameter_and_spares_the_event_grid_webhook() -> None:
    authentication = resource("modules/function-app.bicep", "authentication")["properties"]
    assert authentication["platform"]["enabled"] == "enableEntraAuth"
    assert authentication["globalValidation"]["requireAuthentication"] == "enableEntraAuth"
    assert authentication["globalValidation"]["unauthenticatedClientAction"] == "Return401"
    assert authentication["globalValidation"]["excludedPaths"] == ["/runtime/webhooks/eventgrid"]
