"""The in-tree build backend: mypy only when compiling, never compiling while describing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_BACKEND = Path(__file__).resolve().parents[2] / "build_support" / "crm_gym_build.py"
_spec = importlib.util.spec_from_file_location("crm_gym_build", _BACKEND)
crm_gym_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(crm_gym_build)


def _setuptools_hook(config_settings=None):
    """Stands in for setuptools' hook: what ``setup.py`` would decide while it runs."""
    return ["wheel"] if not crm_gym_build.compile_now() else ["compiled-while-describing"]


@pytest.mark.parametrize("value, compiled", [("1", True), ("0", False), ("", False)])
def test_mypy_is_a_build_requirement_only_when_compiling(monkeypatch, value, compiled):
    monkeypatch.setenv("CRM_GYM_COMPILE", value)
    requirements = crm_gym_build._requirements(_setuptools_hook, None)
    assert requirements == (["wheel", crm_gym_build.MYPYC_REQUIREMENT] if compiled else ["wheel"])
    assert crm_gym_build.compile_now() is compiled  # and after describing, the build compiles


def test_an_editable_compiled_install_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("CRM_GYM_COMPILE", "1")
    with pytest.raises(RuntimeError, match="regular install only"):
        crm_gym_build.build_editable(str(tmp_path))
