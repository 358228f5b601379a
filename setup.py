"""Setuptools entry point: metadata lives in setup.cfg; this adds the optional compiled modules.

``CRM_GYM_COMPILE=1 pip install .`` compiles ``crm_gym.compiled.COMPILED_MODULES`` with mypyc
(mypy's settings: ``[tool.mypy]`` in pyproject.toml; ``MYPYC_OPT_LEVEL``, as for the mypyc
command, sets the C optimisation, 3 by default); without it the package is pure Python.
"""

import os
import runpy
import sys
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "build_support"))
from crm_gym_build import compile_now  # noqa: E402


def compiled_extensions() -> list:
    """The mypyc extensions of the modules ``crm_gym/compiled.py`` names."""
    from mypyc.build import mypycify

    compiled = runpy.run_path(str(ROOT / "crm_gym" / "compiled.py"))
    paths = [str(compiled["source_path"](name, Path("."))) for name in compiled["COMPILED_MODULES"]]
    opt_level = os.environ.get("MYPYC_OPT_LEVEL", "3")
    return mypycify(paths, opt_level=opt_level, group_name="crm_gym")


setup(ext_modules=compiled_extensions() if compile_now() else [])
