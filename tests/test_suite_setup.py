"""The suite's own set-up, as a new contributor meets it: what is missing is said once, with the fix."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


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
