"""Every azd hook has a `posix` (sh) and a `windows` (PowerShell) entry, and the two scripts take the same steps: the
same az and azd calls with the same options, in the same order, the same template parameters and the same
environment. No PowerShell installs from the registries this project uses, so the .ps1 scripts are compared, not run."""

import os
import re
from pathlib import Path

import pytest

from tests.unit.test_infra import AZD_VARIABLES, ROOT, SCRIPTS, azure_yaml, template

# The scripts that come in both flavours: the hooks, and the operator's set-secret.
PAIRS = [("postdeploy.sh", "postdeploy.ps1"), ("set-secret.sh", "set-secret.ps1")]
# An az or azd call; not one quoted in a message ("run 'azd hooks run postdeploy' later").
CALL = re.compile(r"(?<![\w$'-])(?P<tool>azd|az)\s+(?P<rest>[^\n]*)")


def logical_lines(script: Path) -> list[str]:
    """The script's lines without comments, continuation lines joined (sh `\\`, PowerShell backtick)."""
    text = script.read_text(encoding="utf-8")
    text = re.sub(r"[\\`]\n\s*", " ", text)
    return [line for line in text.splitlines() if not line.lstrip().startswith("#")]


def calls(script: Path) -> list[tuple[str, frozenset[str]]]:
    """Each az/azd call: its command words (up to the first option) and the options it passes, in order."""
    found = []
    for line in logical_lines(script):
        for match in CALL.finditer(line):
            words = [match["tool"]]
            for token in match["rest"].split():
                word = token.rstrip(")\"'")
                if not re.fullmatch(r"[a-z][a-z-]*", word) or token.startswith("-"):
                    break
                words.append(word)
                if word != token:
                    break
            options = frozenset(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", match["rest"]))
            found.append((" ".join(words), options))
    return found


def template_parameters(script: Path) -> set[str]:
    code = "\n".join(logical_lines(script))
    deployment = code.split("az deployment sub create", 1)[1] if "az deployment sub create" in code else ""
    passed = set(re.findall(r"(?<![\w$-])([a-z][A-Za-z]+)=\"", deployment))
    passed |= set(re.findall(r"^\s*\"?([a-z][A-Za-z]+)\"?\s*[:=]\s*(?:\[ordered\]@)?\{", code, re.MULTILINE))
    return passed - {"parameters", "value"}


def environment(script: Path) -> set[str]:
    code = "\n".join(logical_lines(script))
    if script.suffix == ".ps1":
        return set(re.findall(r"\$env:([A-Z][A-Z0-9_]*)", code))
    return set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", code))


def hooks() -> list[tuple[str, dict[str, object]]]:
    return list(azure_yaml()["hooks"].items())


@pytest.mark.parametrize(("name", "hook"), hooks(), ids=[name for name, _ in hooks()])
def test_every_hook_has_posix_and_windows_entries_alike_but_for_the_shell(name: str, hook: dict[str, object]) -> None:
    assert set(hook) == {"posix", "windows"}, f"{name}: a hook for each platform, nothing shared"
    posix, windows = hook["posix"], hook["windows"]
    assert isinstance(posix, dict) and isinstance(windows, dict)
    assert posix["shell"] == "sh" and windows["shell"] == "pwsh"
    assert {key: value for key, value in posix.items() if key not in ("shell", "run")} == {
        key: value for key, value in windows.items() if key not in ("shell", "run")
    }
    sh, ps1 = ROOT / str(posix["run"]), ROOT / str(windows["run"])
    assert sh.suffix == ".sh" and ps1.suffix == ".ps1"
    assert sh.with_suffix("") == ps1.with_suffix(""), "the two scripts lie side by side under one name"
    assert (sh.name, ps1.name) in PAIRS
    for script in (sh, ps1):
        assert os.access(script, os.X_OK), script


@pytest.mark.parametrize(("sh", "ps1"), PAIRS)
def test_the_windows_script_makes_the_same_calls_as_the_posix_one(sh: str, ps1: str) -> None:
    posix, windows = calls(SCRIPTS / sh), calls(SCRIPTS / ps1)
    assert posix, f"{sh} makes no az call?"
    assert windows == posix


@pytest.mark.parametrize(("sh", "ps1"), PAIRS)
def test_the_windows_script_reads_the_same_environment_and_passes_the_same_template_parameters(
    sh: str, ps1: str
) -> None:
    assert environment(SCRIPTS / ps1) == environment(SCRIPTS / sh)
    assert template_parameters(SCRIPTS / ps1) == template_parameters(SCRIPTS / sh)


def test_the_postdeploy_scripts_pass_exactly_the_event_grid_templates_parameters() -> None:
    expected = set(template("eventgrid.bicep")["parameters"])
    for script in ("postdeploy.sh", "postdeploy.ps1"):
        assert template_parameters(SCRIPTS / script) == expected, script


def test_the_powershell_scripts_use_only_outputs_of_main_bicep_and_azd_variables() -> None:
    outputs = set(template("main.bicep")["outputs"])
    for _, ps1 in PAIRS:
        unknown = environment(SCRIPTS / ps1) - outputs - AZD_VARIABLES
        assert unknown == set(), f"{ps1} reads {sorted(unknown)}"


def test_set_secret_names_the_secret_the_same_way_in_both_scripts() -> None:
    assert "tr 'A-Z_' 'a-z-'" in (SCRIPTS / "set-secret.sh").read_text(encoding="utf-8")
    assert ".ToLowerInvariant().Replace('_', '-')" in (SCRIPTS / "set-secret.ps1").read_text(encoding="utf-8")


def test_the_call_parser_sees_a_difference() -> None:
    """The comparison is not vacuous: a dropped option or a reordered call is seen."""
    script = SCRIPTS / "postdeploy.sh"
    reference = calls(script)
    assert ("az functionapp keys list", frozenset({"--resource-group", "--name", "--query", "--output"})) in reference
    assert reference[-1][0] == "az deployment sub create"
    assert "--template-file" in reference[-1][1]
