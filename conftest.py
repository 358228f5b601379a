"""Doctest collection and hypothesis's CI profile.

``--doctest-modules`` imports every module under ``crm_gym``; a module that needs an extra raises
``ImportError`` naming it, which pytest would report as a collection error on a ``[dev]`` install.

Under ``CI`` (set by the CI runner) hypothesis draws its examples from a fixed seed, so a CI run
is reproducible and never fails on a draw no one can replay; local runs keep exploring new
examples (a failure they find is a bug, to be pinned by an explicit test).
"""

from __future__ import annotations

import importlib.util
import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

OPTIONAL_MODULES = {
    "crm_gym/envs/multiagent.py": "pettingzoo",
    "agents/tiny.py": "transformers",
    "agents/hf.py": "transformers",
    "agents/grpo.py": "torch",
    "agents/api.py": "litellm",
    "benchmarks/report.py": "rliable",
    "benchmarks/plots.py": "matplotlib",
}
"""Module path -> the package its extra installs."""

collect_ignore = [
    path for path, package in OPTIONAL_MODULES.items() if importlib.util.find_spec(package) is None
]
