"""One set of app setting names everywhere: `Settings` (SETTING_NAMES), the README's tables,
local.settings.json.example and the Bicep app settings of the Function App."""

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

from shared.settings import SETTING_NAMES
from shared.telemetry import SECRET_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_APP_BICEP = ROOT / "infra" / "modules" / "function-app.bicep"
# The first cell of a table row: a setting name in backticks.
ROW = re.compile(r"^\|\s*`(?P<name>[A-Za-z_][A-Za-z0-9_]*)`\s*\|(?P<cells>.*)\|\s*$")


def readme_tables() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The product's settings table and the Functions runtime's table, each `name -> other cells`."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- settings-table:start -->", 1)[1].split("<!-- settings-table:end -->", 1)[0]
    tables: list[dict[str, list[str]]] = [{}]
    for line in section.splitlines():
        if not line.startswith("|") and tables[-1]:
            tables.append({})
        if match := ROW.match(line):
            tables[-1][match["name"]] = [cell.strip() for cell in match["cells"].split("|")]
    filled = [table for table in tables if table]
    assert len(filled) == 2, "expected the settings table and the runtime settings table"
    return filled[0], filled[1]


def local_example() -> set[str]:
    example = json.loads((ROOT / "local.settings.json.example").read_text(encoding="utf-8"))
    return set(example["Values"])


@cache
def function_app_template() -> dict[str, Any]:
    return BicepParser().parse(file_path=FUNCTION_APP_BICEP)


def bicep_variables() -> dict[str, Any]:
    variables: dict[str, Any] = function_app_template()["variables"]
    return variables


def bicep_names(variable: str) -> list[str]:
    return [setting["name"] for setting in bicep_variables()[variable]["value"]]


def test_the_readme_table_lists_every_setting() -> None:
    settings, _ = readme_tables()
    assert set(settings) == set(SETTING_NAMES)


def test_the_readme_marks_exactly_the_secret_settings_as_secret() -> None:
    settings, _ = readme_tables()
    secret = {name for name, cells in settings.items() if cells[-1] == "yes"}
    assert {cells[-1] for cells in settings.values()} == {"yes", "no"}
    assert secret == set(SECRET_SETTINGS)


def test_local_settings_example_has_every_setting_and_only_known_ones() -> None:
    _, runtime = readme_tables()
    example = local_example()
    assert set(SETTING_NAMES) <= example
    assert example - set(SETTING_NAMES) <= set(runtime), "document the runtime setting in the README"


def test_the_function_app_sets_every_setting_once() -> None:
    names = bicep_names("productSettings")
    assert len(names) == len(set(names))
    assert set(names) == set(SETTING_NAMES)


def test_the_runtime_settings_of_the_deployment_are_documented() -> None:
    _, runtime = readme_tables()
    deployed = bicep_names("runtimeSettings")
    assert set(deployed) <= set(runtime)
    assert set(runtime) <= set(deployed) | local_example(), "the README lists a runtime setting nobody sets"


def test_the_app_settings_are_the_three_lists() -> None:
    site = function_app_template()["resources"]["site"]["config"]
    app_settings = site["properties"]["siteConfig"]["appSettings"]["function"]
    assert app_settings["type"] == "concat"
    assert list(app_settings["parameters"].values()) == ["productSettings", "linkSecretSettings", "runtimeSettings"]


def test_secret_settings_are_key_vault_references() -> None:
    variables = bicep_variables()
    values = {setting["name"]: setting["value"] for setting in variables["productSettings"]["value"]}
    platform_secret = values["EMQX_PLATFORM_API_SECRET"]["operator"]["operands"]
    assert platform_secret["false_value"].startswith("@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/")
    link_secret = variables["linkSecretSettings"]["value"]
    assert link_secret["loop_type"]["detail"]["array_name"] == "linkSecretNames"
    assert link_secret["config"]["value"].startswith("@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/")
    assert values["STATE_STORAGE_CONNECTION_STRING"] == "", "Azure reaches the state with the managed identity"
