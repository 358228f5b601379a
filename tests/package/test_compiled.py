"""The mypyc build (``CRM_GYM_COMPILE=1``): it compiles, and the compiled package behaves the same.

Compiled code checks its type hints at run time and turns ints into floats where a hint says
float, so a hint that lies shows up only here. The build (about a minute) runs on a copy of the
repository; there the data and env tests must pass, and the copy and this checkout must give the
same generator lines and the same env results (``benchmarks.speed.trace``'s digests).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from benchmarks.speed.compare import run_in, same_data
from benchmarks.speed.trace import trace_code
from crm_gym.compiled import COMPILED_MODULES, compiled_modules, source_path

REPO = Path(__file__).resolve().parents[2]
COPIED_DIRS = ("crm_gym", "benchmarks", "build_support", "tests")
COPIED_FILES = ("conftest.py", "setup.py", "setup.cfg", "pyproject.toml")
COMPILED_TESTS = ("tests/data", "tests/envs")
"""The tests of the code that uses the compiled modules (the CRM's own tests do not)."""


STREAMING = """
import operator
from crm_gym.data.generator import generate, generate_lines
made = [generate(10, 1), generate_lines(10, 1), generate_lines(10, 1, workers=2)]
print("streams" if all(operator.length_hint(it, -1) == -1 for it in made) else "made at once")
"""
"""Compiled, a generator expression becomes a list: the generator must still make nothing early."""


def _compiler_missing() -> str | None:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler}) to build the compiled modules with"
    try:
        import mypyc  # noqa: F401
    except ImportError:
        return "mypy (the dev extra) is not installed; it brings mypyc"
    return None


_MISSING = _compiler_missing()


def test_every_compiled_module_exists_and_this_checkout_runs_python():
    for module in COMPILED_MODULES:
        assert source_path(module, REPO).is_file(), module
    assert compiled_modules() == []  # the tests run on the sources, not on stale extensions


@pytest.mark.slow
@pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))
def test_compiled_build_gives_the_same_lines_and_env_results(tmp_path, monkeypatch):
    copy = tmp_path / "compiled"
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info")
    for name in COPIED_DIRS:
        shutil.copytree(REPO / name, copy / name, ignore=ignore)
    for name in COPIED_FILES:
        shutil.copy2(REPO / name, copy / name)
    (copy / "README.md").write_text("crm-gym\n")
    (tmp_path / "shared").symlink_to(REPO.parent / "shared")  # ../shared, as beside the checkout
    environment = {**os.environ, "CRM_GYM_COMPILE": "1"}
    build = [sys.executable, "setup.py", "-q", "build_ext", "--inplace"]
    done = subprocess.run(build, cwd=copy, env=environment, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    listing = "from crm_gym.compiled import compiled_modules\nprint(len(compiled_modules()))"
    assert run_in(copy, listing) == str(len(COMPILED_MODULES))
    assert run_in(copy, STREAMING) == "streams"
    monkeypatch.setenv("ARC_CRM_DATA", same_data())  # both sides, and only for this test
    for generator in (True, False):
        code = trace_code(generator, quick=True)
        assert run_in(copy, code) == run_in(REPO, code)

    arguments = ["-q", "-x", "-o", "addopts=", *COMPILED_TESTS]
    tests = (
        "import sys, pytest\nfrom crm_gym.compiled import compiled_modules\n"
        f"assert compiled_modules()\nsys.exit(pytest.main({arguments!r}))"
    )
    done = subprocess.run([sys.executable, "-c", tests], cwd=copy, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-6000:]
