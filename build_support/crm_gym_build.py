"""The build backend: setuptools', plus mypy as a build requirement when asked to compile.

``CRM_GYM_COMPILE=1`` makes ``setup.py`` compile the modules of ``crm_gym/compiled.py`` with
mypyc, which comes with mypy; asking for it here lets pip's isolated build install it only then.
Setuptools runs ``setup.py`` to list its requirements and to write the metadata too, before
mypy is there, so the compilation waits for the build itself (``compile_now``).
"""

from __future__ import annotations

import os

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403 (every hook not defined below is setuptools')

MYPYC_REQUIREMENT = "mypy==2.4.1"
"""The mypyc the compiled modules are checked with (its output differs between releases)."""

_describing = False


def compile_requested() -> bool:
    """True when the environment asks for the compiled build."""
    return os.environ.get("CRM_GYM_COMPILE", "") not in ("", "0")


def compile_now() -> bool:
    """True when ``setup.py`` should compile: asked for, and building (not describing)."""
    return compile_requested() and not _describing


def get_requires_for_build_wheel(config_settings=None):
    """Setuptools' requirements, and mypy when compiling."""
    return _requirements(_setuptools.get_requires_for_build_wheel, config_settings)


def get_requires_for_build_editable(config_settings=None):
    """Setuptools' requirements, and mypy when compiling."""
    return _requirements(_setuptools.get_requires_for_build_editable, config_settings)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """Setuptools' editable wheel; refused when compiling (an extension would shadow the source)."""
    if compile_requested():
        raise RuntimeError(
            "CRM_GYM_COMPILE=1 compiles a regular install only (pip install .), not an"
            " editable one: a compiled module would hide every later edit of its source"
        )
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    """Setuptools' metadata, written without compiling."""
    return _describe(
        _setuptools.prepare_metadata_for_build_wheel, metadata_directory, config_settings
    )


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    """Setuptools' metadata, written without compiling."""
    return _describe(
        _setuptools.prepare_metadata_for_build_editable, metadata_directory, config_settings
    )


def _requirements(setuptools_hook, config_settings) -> list[str]:
    requirements = _describe(setuptools_hook, config_settings)
    return [*requirements, MYPYC_REQUIREMENT] if compile_requested() else requirements


def _describe(setuptools_hook, *args):
    """Run a setuptools hook that only describes the build, with the compilation off."""
    global _describing
    _describing = True
    try:
        return setuptools_hook(*args)
    finally:
        _describing = False
