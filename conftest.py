"""Doctest collection: leave out modules whose optional extra is not installed.

``--doctest-modules`` imports every module under ``crm_gym``; a module that needs an extra raises
``ImportError`` naming it, which pytest would report as a collection error on a ``[dev]`` install.
"""

from __future__ import annotations

import importlib.util

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
