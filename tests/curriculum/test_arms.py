"""Default arms agree with ``crm_gym.data.labels``, and curricula import only numpy."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import curricula
from crm_gym.data import labels
from curricula.arms import DEFAULT_ARMS, DEFAULT_DIFFICULTIES, DEFAULT_SKILLS, make_arms

PACKAGE = Path(curricula.__file__).resolve().parent


def test_default_arms_are_the_twelve_arms_of_the_labels():
    assert len(DEFAULT_ARMS) == 12
    assert DEFAULT_ARMS == labels.ARMS
    assert DEFAULT_SKILLS == labels.SKILLS and DEFAULT_DIFFICULTIES == labels.DIFFICULTIES
    named = tuple(labels.arm_name(s, d) for s in labels.SKILLS for d in labels.DIFFICULTIES)
    assert DEFAULT_ARMS == named
    assert DEFAULT_ARMS[0] == "crud-easy" and DEFAULT_ARMS[-1] == "policy-hard"


def test_make_arms_builds_skill_major_joint_arms():
    assert make_arms(["a", "b"], ["x"]) == ("a-x", "b-x")
    assert make_arms(iter(["a"]), iter(["x", "y"])) == ("a-x", "a-y")


@pytest.mark.parametrize(
    ("skills", "difficulties"), [([], ["easy"]), (["crud"], []), (["crud", "crud"], ["easy"])]
)
def test_make_arms_rejects_empty_or_duplicate_arms(skills, difficulties):
    with pytest.raises(ValueError):
        make_arms(skills, difficulties)


def test_curricula_source_imports_only_numpy_and_the_standard_library():
    allowed = {"numpy", "curricula", *sys.stdlib_module_names}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = {node.module.split(".")[0]}
            else:
                continue
            assert names <= allowed, (path, names - allowed)


def test_importing_curricula_loads_nothing_heavy():
    heavy = ("crm_gym", "agents", "benchmarks", "torch", "gymnasium", "pydantic")
    code = f"import sys, curricula; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
