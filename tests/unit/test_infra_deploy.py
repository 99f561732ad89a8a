"""Operating the deployment in Azure: regions, Python versions, a redeployable Key Vault, private networking, sovereign
clouds, and every parameter documented. Read with pycep, as in test_infra.py; what only Azure can tell (that a region
really offers Flex Consumption today, that the private endpoints resolve) is the README's to say."""

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_infra import AZD_REFERENCE, AZD_VARIABLES, INFRA, ROOT, SCRIPTS, resource, template

README = ROOT / "README.md"
RUNTIME_PYTHON_MARKERS = re.compile(
    r'^azure-functions==(?P<version>[\d.]+); python_version (?P<op>[<>=]+) "(?P<at>[\d.]+)"$'
)


def decorators(parameter: dict[str, Any]) -> dict[str, Any]:
    return {decorator["type"]: decorator["argument"] for decorator in parameter["decorators"]}


def deploy_section() -> str:
    readme = README.read_text(encoding="utf-8")
    return readme.split("<!-- deploy:start -->", 1)[1].split("<!-- deploy:end -->", 1)[0]


def camel_case(name: str) -> str:
    first, *rest = name.lower().split("_")
    return first + "".join(word.capitalize() for word in rest)


def environment_parameters() -> dict[str, str]:
    """`azd env set` name -> Bicep parameter, from main.parameters.json (azd's own variables left out)."""
    given = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    named = {}
    for parameter, value in given.items():
        reference = AZD_REFERENCE.fullmatch(value["value"])
        assert reference is not None, parameter
        if reference["name"] not in AZD_VARIABLES:
            named[reference["name"]] = parameter
    return named


def test_the_location_is_one_of_the_flex_consumption_regions_with_azds_location_prompt() -> None:
    location = decorators(template("main.bicep")["parameters"]["location"])
    assert location["metadata"] == {"azd": {"type": "location"}}
    regions = location["allowed"]
    assert {"eastus", "westeurope", "swedencentral", "australiaeast"} <= set(regions)
    assert regions == sorted(set(regions)), "sorted and unique, as infra/scripts/flex_regions.py writes them"
    assert not [region for region in regions if region.endswith("euap")], "no canary region"
    main = (INFRA / "main.bicep").read_text(encoding="utf-8")
    assert "az functionapp list-flexconsumption-locations" in main, "say how the list is refreshed"


def test_the_regions_script_rewrites_only_the_allowed_block_and_is_idempotent(tmp_path: Path) -> None:
    sys.path.insert(0, str(SCRIPTS))
    try:
        import flex_regions
    finally:
        sys.path.remove(str(SCRIPTS))
    original = (INFRA / "main.bicep").read_text(encoding="utf-8")
    copy = tmp_path / "main.bicep"
    copy.write_text(original, encoding="utf-8")
    current = decorators(template("main.bicep")["parameters"]["location"])["allowed"]
    assert flex_regions.main("\n".join(reversed(current)) + "\neastus2euap\n", copy) == 0
    assert copy.read_text(encoding="utf-8") == original
    assert flex_regions.main("usgovvirginia\nusgovarizona usgovtexas\n", copy) == 0
    rewritten = copy.read_text(encoding="utf-8")
    assert "  'usgovarizona'\n  'usgovtexas'\n  'usgovvirginia'\n])\n// flex-regions:end" in rewritten
    assert rewritten.replace("  'usgovarizona'\n  'usgovtexas'\n  'usgovvirginia'\n", "") == original.replace(
        "".join(f"  '{region}'\n" for region in current), ""
    ), "nothing else changed"
    assert flex_regions.main("not a region!", copy) == 1
    assert flex_regions.main("", copy) == 1


def test_python_is_a_parameter_whose_default_is_3_12_or_newer_and_runtime_pins_follow_it() -> None:
    python = template("main.bicep")["parameters"]["pythonVersion"]
    allowed = decorators(python)["allowed"]
    assert allowed == ["3.11", "3.12", "3.13"]
    assert tuple(map(int, python["default"].split("."))) >= (3, 12)
    app = template("main.bicep")["modules"]["functionApp"]["config"]["params"]
    assert app["pythonVersion"] == "pythonVersion"
    pins = [
        match.groupdict()
        for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if (match := RUNTIME_PYTHON_MARKERS.match(line))
    ]
    assert pins == [
        {"version": pins[0]["version"], "op": "<", "at": "3.13"},
        {"version": pins[1]["version"], "op": ">=", "at": "3.13"},
    ]
    assert pins[0]["version"].startswith("1.") and pins[1]["version"].startswith("2.")


def test_the_key_vault_name_changes_with_the_deployments_identity_so_a_redeployment_after_azd_down_works() -> None:
    vault = template("main.bicep")["modules"]["vault"]["config"]["params"]
    assert vault["name"].startswith("kv-${uniqueString(")
    assert "identity.outputs.principalId" in vault["name"], "a new identity after azd down, so a new vault name"
    assert len("kv-") + 13 <= 24, "uniqueString is 13 characters; Key Vault names are 3-24"
    properties = resource("modules/keyvault.bicep", "vault")["properties"]
    assert properties["enablePurgeProtection"] is True
    assert properties["enableSoftDelete"] is True
    identity = template("modules/identity.bicep")["resources"]["identity"]
    assert identity["type"] == "Microsoft.ManagedIdentity/userAssignedIdentities"


def dotted(value: Any) -> Any:
    """`a.b.c` for pycep's nested property accessors; anything else as it is."""
    if isinstance(value, dict) and value.get("operator", {}).get("type") == "property_accessor":
        operands = value["operator"]["operands"]
        return f"{dotted(operands['operand_1'])}.{dotted(operands['operand_2'])}"
    return value


def conditional(value: dict[str, Any]) -> tuple[str, Any, Any]:
    operands = value["operator"]["operands"]
    assert value["operator"]["type"] == "conditional"
    return operands["condition"], operands["true_value"], operands["false_value"]


@pytest.mark.parametrize(
    ("relative", "name"), [("modules/storage.bicep", "account"), ("modules/keyvault.bicep", "vault")]
)
def test_vnet_enabled_turns_public_network_access_off(relative: str, name: str) -> None:
    properties = resource(relative, name)["properties"]
    assert conditional(properties["publicNetworkAccess"]) == ("vnetEnabled", "Disabled", "Enabled")
    assert conditional(properties["networkAcls"]["defaultAction"]) == ("vnetEnabled", "Deny", "Allow")
    main = template("main.bicep")
    module = {"modules/storage.bicep": "storage", "modules/keyvault.bicep": "vault"}[relative]
    assert main["modules"][module]["config"]["params"]["vnetEnabled"] == "vnetEnabled"


def test_vnet_enabled_is_off_by_default_and_brings_integration_private_endpoints_and_dns_zones() -> None:
    main = template("main.bicep")
    assert main["parameters"]["vnetEnabled"]["default"] is False
    network = main["modules"]["network"]["config"]
    assert network["condition"] == "vnetEnabled"
    app = main["modules"]["functionApp"]["config"]["params"]
    assert conditional(app["appSubnetId"])[0] == "vnetEnabled"
    site = resource("modules/function-app.bicep", "site")["properties"]
    assert conditional(site["virtualNetworkSubnetId"])[2] == "appSubnetId"

    module = template("modules/network.bicep")
    endpoints = module["variables"]["endpoints"]["value"]
    assert {(endpoint["service"], endpoint["target"]) for endpoint in endpoints} == {
        ("blob", "storageAccountId"),
        ("queue", "storageAccountId"),
        ("table", "storageAccountId"),
        ("vault", "keyVaultId"),
    }
    for endpoint in endpoints:
        zone = module["variables"]["keyVaultZone"]["value"] if endpoint["zone"] == "keyVaultZone" else endpoint["zone"]
        assert "environment()" in zone, f"{endpoint['service']}: the zone of this cloud, not the public cloud's"
    subnets = {
        subnet["name"]: subnet["properties"]
        for subnet in resource("modules/network.bicep", "vnet")["properties"]["subnets"]
    }
    assert subnets["app"]["delegations"][0]["properties"]["serviceName"] == "Microsoft.App/environments"
    assert "natGateway" in subnets["app"], "the app reaches ARM, Entra ID and EMQX through the NAT gateway"
    assert subnets["private-endpoints"]["privateEndpointNetworkPolicies"] == "Disabled"
    links = resource("modules/network.bicep", "zoneLinks")["properties"]
    assert dotted(links["virtualNetwork"]["id"]) == "vnet.id"


def test_the_hosts_storage_is_configured_by_service_uri_valid_in_every_cloud() -> None:
    variables = template("modules/function-app.bicep")["variables"]
    runtime = {setting["name"]: setting["value"] for setting in variables["runtimeSettings"]["value"]}
    assert "AzureWebJobsStorage__accountName" not in runtime, "it builds public-cloud host names"
    for service in ("blob", "queue", "table"):
        uri = dotted(runtime[f"AzureWebJobsStorage__{service}ServiceUri"])
        assert uri == f"storage.properties.primaryEndpoints.{service}"
    assert runtime["AzureWebJobsStorage__credential"] == "managedidentity"
    product = {setting["name"]: setting["value"] for setting in variables["productSettings"]["value"]}
    assert product["ARM_ENDPOINT"] == {"function": {"type": "environment", "property_name": "resourceManager"}}
    assert product["ARM_CREDENTIAL_SCOPE"] == "${environment().resourceManager}.default"


def test_no_template_or_script_names_a_public_cloud_host() -> None:
    # The deployment parameters' $schema URL (schema.management.azure.com) is an identifier, the same in every cloud.
    public = re.compile(
        r"(?<!schema\.)management\.azure\.com|core\.windows\.net|vault\.azure\.net|microsoftonline\.com"
    )
    for path in [*INFRA.rglob("*.bicep"), *SCRIPTS.glob("*.sh"), *SCRIPTS.glob("*.ps1")]:
        code = "\n".join(
            line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith(("//", "#"))
        )
        assert not public.search(code), (
            f"{path.relative_to(ROOT)}: take the endpoint from environment() or az cloud show"
        )
    for script in ("set-secret.sh", "set-secret.ps1"):
        assert "az cloud show --query endpoints.resourceManager" in (SCRIPTS / script).read_text(encoding="utf-8")


def test_every_parameter_is_given_by_an_azd_variable_and_the_readme_documents_each() -> None:
    parameters = template("main.bicep")["parameters"]
    given = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert set(given) == set(parameters), "every parameter can be set with azd env set"
    documented: dict[str, str] = {}
    table = deploy_section().split("| `azd env set` | Bicep parameter | Meaning |\n", 1)[1]
    for line in table.splitlines()[1:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        variables = re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0])
        names = re.findall(r"`([a-z][A-Za-z0-9]*)`", cells[1])
        if cells[1] == "same names in camelCase":
            names = [camel_case(variable) for variable in variables]
        assert len(names) == len(variables), line
        documented.update(zip(variables, names, strict=True))
    assert documented == environment_parameters()


def test_the_vnet_variant_script_decides_every_use_of_the_parameter(tmp_path: Path) -> None:
    for enabled in ("true", "false"):
        target = tmp_path / enabled
        result = subprocess.run(
            [sys.executable, str(SCRIPTS / "bicep_variant.py"), str(INFRA), str(target), enabled],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        for path in target.rglob("*.bicep"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"\bvnetEnabled\s*\?", text), path
            if re.search(r"param vnetEnabled bool", text):
                assert f"param vnetEnabled bool = {enabled}\n" in text, path
            if enabled == "true":
                assert "(vnetEnabled false)" not in text, f"{path}: a skip that holds only with vnetEnabled false"
        storage = (target / "modules" / "storage.bicep").read_text(encoding="utf-8")
        expected = "Disabled" if enabled == "true" else "Enabled"
        assert f"publicNetworkAccess: '{expected}'" in storage
        assert ("//checkov:skip=CKV_AZURE_35" in storage) == (enabled == "false")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.bicep").write_text("param vnetEnabled bool\nvar a = vnetEnabled ? concat([1], [2]) : []\n")
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "bicep_variant.py"), str(broken), str(tmp_path / "out"), "true"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert "not single values" in result.stderr


def test_the_vendored_azd_schema_is_the_one_its_readme_names() -> None:
    fixtures = ROOT / "tests" / "fixtures" / "azd"
    digest = hashlib.sha256((fixtures / "azure.yaml.schema.json").read_bytes()).hexdigest()
    assert f"sha256 {digest}" in (fixtures / "README.md").read_text(encoding="utf-8")


def test_application_insights_ingestion_asks_for_the_audience_of_a_sovereign_cloud() -> None:
    variables = template("modules/monitoring.bicep")["variables"]
    assert variables["monitorAudiences"]["value"] == {
        "AzureUSGovernment": "https://monitor.azure.us/",
        "AzureChinaCloud": "https://monitor.azure.cn/",
    }
    output = template("modules/monitoring.bicep")["outputs"]["connectionString"]["value"]
    assert conditional(output) == ("needsAudience", "${connectionString};AADAudience=${audience}", "connectionString")
    from azure.monitor.opentelemetry.exporter._connection_string_parser import ConnectionStringParser

    key = "4b1f6f3e-8c2a-4d5e-9f70-1a2b3c4d5e6f"
    parsed = ConnectionStringParser(f"InstrumentationKey={key};AADAudience=https://monitor.azure.us/")
    assert parsed.aad_audience == "https://monitor.azure.us/", "the exporter reads the audience from there"
