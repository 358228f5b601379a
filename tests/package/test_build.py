"""The plain build: setuptools' standard backend makes a pure-Python wheel with the package data."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PRIVATE_JSON = ("c_make_encoder", "c_make_scanner", "json.encoder", "json.scanner")


def test_pyproject_names_setuptools_standard_backend_and_no_setup_py_exists():
    tomllib = pytest.importorskip("tomllib")
    build = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]
    assert build["build-backend"] == "setuptools.build_meta"
    assert "backend-path" not in build and "setuptools>=64" in build["requires"]
    assert not (REPO / "setup.py").exists()


def test_crm_gym_uses_no_private_json_api():
    for path in (REPO / "crm_gym").rglob("*.py"):
        names = {
            node.attr if isinstance(node, ast.Attribute) else node.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.Attribute, ast.alias))
        }
        assert not names & set(PRIVATE_JSON), path


@pytest.mark.slow
def test_wheel_is_pure_python_with_the_builtin_examples(tmp_path):
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    built = subprocess.run(
        [*command, "-q", "-w", str(tmp_path), str(REPO)], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "crm_gym/data/examples/builtin.jsonl" in names
    assert "crm_gym/generator/conversations.py" in names
    assert not [name for name in names if name.endswith((".so", ".pyd", ".c"))]
