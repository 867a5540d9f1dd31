"""The suite's own set-up, as a new contributor meets it: what is missing is said once, with the fix; and the tests
as a codebase: shared helpers live in tests/support/, so no test module imports another."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


@pytest.mark.subprocess
def test_a_missing_contract_stops_the_suite_with_one_message(tmp_path: Path) -> None:
    """A checkout without ../shared beside it: pytest stops before running anything and names the missing file."""
    checkout = tmp_path / "checkout"
    shutil.copytree(TESTS, checkout / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    missing = tmp_path / "shared" / "contracts" / "openai-openapi.yaml"

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_fake_openai.py"],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert f"The OpenAPI contract is missing at {missing}; " in output
    assert "Check out the project's shared/ folder beside this repository (as ../shared)" in output
    assert output.count("The OpenAPI contract is missing") == 1, output
    assert output.startswith("ERROR: The OpenAPI contract is missing"), output
    assert " passed" not in output and " errors" not in output, output


def imports(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Each import statement of a file: its line and the modules it may import, relative imports resolved (`from .x
    import y` in tests/unit/ may import tests.unit.x and tests.unit.x.y)."""
    package = path.relative_to(TESTS.parent).parent.parts
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield node.lineno, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield node.lineno, [module, *(f"{module}.{alias.name}" for alias in node.names)]


def python_files(folder: Path) -> Iterator[Path]:
    """The Python files below `folder`, without walking the npm packages of tests/node."""
    for parent, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if name != "node_modules"]
        yield from (Path(parent) / name for name in files if name.endswith(".py"))


def is_test_module(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "tests" and any(part.startswith("test_") or part == "conftest" for part in parts)


def test_no_test_module_imports_another_or_conftest() -> None:
    """Test modules, the emulator and the helpers import helpers from tests/support/; fixtures come from conftest
    through pytest, never by import."""
    offences = sorted(
        f"{path.relative_to(TESTS.parent)}:{line} imports {', '.join(filter(is_test_module, modules))}"
        for path in python_files(TESTS)
        for line, modules in imports(path)
        if any(map(is_test_module, modules))
    )
    assert not offences, "shared helpers belong in tests/support/:\n" + "\n".join(offences)
