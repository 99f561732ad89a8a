"""`azure.yaml` is valid against azd's published schema (tests/fixtures/azd/: the copy and where it comes from)."""

import json
from typing import Any

import pytest
from jsonschema import Draft201909Validator

from tests.unit.test_infra import ROOT, azure_yaml

SCHEMA = ROOT / "tests" / "fixtures" / "azd" / "azure.yaml.schema.json"


def validator() -> Draft201909Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2019-09/schema"
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema)


def errors(document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator().iter_errors(document)
    ]


def test_azure_yaml_is_valid_against_azds_schema() -> None:
    assert errors(azure_yaml()) == []


def test_azure_yaml_names_the_schema_it_is_checked_against() -> None:
    first = (ROOT / "azure.yaml").read_text(encoding="utf-8").splitlines()[0]
    schema_id = json.loads(SCHEMA.read_text(encoding="utf-8"))["$id"]
    assert first == f"# yaml-language-server: $schema={schema_id}"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda config: config["hooks"]["postdeploy"].update(run="x.sh"), "hooks/postdeploy"),
        (lambda config: config["hooks"]["postdeploy"]["windows"].update(shell="cmd"), "hooks/postdeploy"),
        (lambda config: config["hooks"].update(afterdeploy={"run": "x.sh"}), "hooks"),
        (lambda config: config.update(name="Not_Valid"), "name"),
    ],
)
def test_the_schema_check_refuses_what_azd_would(change: Any, path: str) -> None:
    config = azure_yaml()
    change(config)
    found = errors(config)
    assert found, "the schema accepted a broken azure.yaml"
    assert any(error.startswith(path) for error in found), found
