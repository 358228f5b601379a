"""Import rules of DESIGN.md and the packaging facts STYLE.md asks a test to check."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "vllm", "litellm", "agents", "curricula", "benchmarks")


def imports_of(package: str) -> set[str]:
    """Top-level module names imported anywhere in a package's source files."""
    found: set[str] = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_crm_gym_imports_nothing_heavy():
    assert not imports_of("crm_gym") & set(HEAVY)


def test_crm_layer_knows_nothing_of_data_or_envs():
    for path in (REPO / "crm_gym" / "crm").rglob("*.py"):
        source = path.read_text()
        assert "crm_gym.data" not in source and "crm_gym.envs" not in source, path


def test_importing_crm_gym_loads_no_heavy_module():
    code = f"import sys, crm_gym, crm_gym.data; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("package", ["crm_gym", "agents", "curricula", "benchmarks", "scripts"])
def test_packages_resolve_inside_the_repository(package):
    module = __import__(package)
    assert Path(module.__file__).resolve().is_relative_to(REPO), module.__file__


def test_ci_runs_the_readme_install_and_test_command():
    readme = (REPO / "README.md").read_text().splitlines()
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert "python -m pytest -q" in readme and ci[-1] == "python -m pytest -q"
    install_line = next(line for line in readme if line.startswith("python3 -m venv"))
    readme_installs = [
        part.removeprefix("pip install ")
        for part in install_line.split(" && ")
        if part.startswith("pip install ")
    ]
    ci_installs = [
        line.removeprefix("python -m pip install -q ")
        for line in ci
        if line.startswith("python -m pip install -q ") and "--upgrade pip" not in line
    ]
    assert readme_installs == ci_installs
    assert readme_installs[0] == "torch==2.13.0"
