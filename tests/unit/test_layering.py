"""One module per external SDK (DESIGN §3), checked from the source.

import-linter cannot forbid sub-packages of an external namespace package such as `azure`, so these rules are
read from each module's imports here; the internal layering is import-linter's (pyproject.toml).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = sorted([ROOT / "function_app.py", *ROOT.glob("functions/*.py"), *ROOT.glob("shared/*.py")])

# SDK prefix -> the only product module allowed to import it.
OWNERS = {
    "azure.mgmt.network": "shared/azure_network.py",
    "httpx": "shared/emqx.py",
    "azure.data.tables": "shared/store.py",
}


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("path", PRODUCT, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_sdk_has_one_owner(path: Path) -> None:
    relative = str(path.relative_to(ROOT))
    for module in imported_modules(path):
        for prefix, owner in OWNERS.items():
            if module == prefix or module.startswith(prefix + "."):
                assert relative == owner, f"{relative} imports {module}; only {owner} may"


@pytest.mark.parametrize("path", sorted(ROOT.glob("shared/*.py")), ids=lambda p: p.name)
def test_shared_never_imports_azure_functions(path: Path) -> None:
    assert not any(m == "azure.functions" or m.startswith("azure.functions.") for m in imported_modules(path))


def test_the_rules_see_imports() -> None:
    assert "azure.mgmt.network.aio" in imported_modules(ROOT / "shared/azure_network.py")
    assert "httpx" in imported_modules(ROOT / "shared/emqx.py")
