"""What docs/architecture.md says of the folders holds: who imports whom, and how long modules
and functions may grow."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("services", "encoder", "search_api", "scripts", "tests")
HEAVY = {"torch", "torchvision", "timm", "onnxruntime"}
# folder -> (first-party modules it may import, by prefix; third-party packages it must not)
RULES = {
    "services": (("services",), HEAVY),
    "encoder": (("services", "encoder"), set()),
    "search-api/search_api": (("services", "search_api"), HEAVY),
    "scripts/jobs": (("services", "scripts.jobs"), HEAVY),
    "scripts/training": (("services", "encoder", "scripts.training"), set()),
    "scripts/stack": (("services", "scripts.jobs", "scripts.stack"), HEAVY),
}
PRODUCT = ["services", "encoder", "search-api/search_api", "scripts"]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("folder", sorted(RULES))
def test_each_folder_imports_only_what_it_may(folder):
    allowed, forbidden = RULES[folder]
    for path in python_files(folder):
        for module in imports(path):
            top = module.split(".")[0]
            if top in FIRST_PARTY:
                assert module.startswith(allowed), f"{path.relative_to(ROOT)} imports {module}"
            assert top not in forbidden, f"{path.relative_to(ROOT)} imports {module}"


def test_no_test_module_imports_another():
    for path in python_files("tests"):
        for module in imports(path):
            if module.startswith("tests."):
                assert module.startswith("tests.support"), f"{path.relative_to(ROOT)}: {module}"


def test_modules_and_functions_stay_small():
    for folder in PRODUCT:
        for path in python_files(folder):
            text = path.read_text()
            name = path.relative_to(ROOT)
            assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{name} is too long"
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    length = node.end_lineno - node.lineno + 1
                    assert length <= MAX_FUNCTION_LINES, f"{name}: {node.name} has {length} lines"
    for script in sorted((ROOT / "frontend" / "js").glob("*.js")):
        lines = len(script.read_text().splitlines())
        assert lines <= MAX_MODULE_LINES, f"{script.relative_to(ROOT)} has {lines} lines"


def blueprint_modules() -> dict[str, Path]:
    """The search API's modules that define a blueprint, by module name."""
    found = {}
    for path in python_files("search-api/search_api"):
        if "Blueprint(" in path.read_text():
            found[f"search_api.{path.stem}"] = path
    return found


def test_no_blueprint_imports_another():
    modules = blueprint_modules()
    assert len(modules) >= 3, modules
    for name, path in modules.items():
        others = imports(path) & (set(modules) - {name})
        assert not others, f"{path.relative_to(ROOT)} imports the blueprint(s) {others}"


def test_the_search_api_reaches_its_collaborators_one_way():
    """``app.extensions`` is read in one place: ``collaborators()``; nowhere by string keys."""
    for path in python_files("search-api/search_api"):
        if path.name != "collaborators.py":
            assert ".extensions" not in path.read_text(), path.relative_to(ROOT)
