"""The modules an optimised install compiles with mypyc, and whether this install did.

``CRM_GYM_COMPILE=1 pip install .`` compiles them to C extensions (a C compiler is needed; about
a minute on two cores): the generator then makes about 1.3x more conversations per second, with
the same bytes (docs/data.md, "Speed"). The default install is pure Python. Only a regular
install compiles: in an editable one, an extension would shadow the source being edited.

``setup.py`` reads this file before anything is installed: standard library only.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

COMPILED_MODULES = (
    "crm_gym.data.clauses",
    "crm_gym.data.failures",
    "crm_gym.data.generator",
    "crm_gym.data.labels",
    "crm_gym.data.language",
    "crm_gym.data.moves_edit",
    "crm_gym.data.moves_read",
    "crm_gym.data.moves_write",
    "crm_gym.data.phrasebook",
    "crm_gym.data.pools",
    "crm_gym.data.responses",
    "crm_gym.data.scene",
    "crm_gym.data.seeding",
    "crm_gym.data.templates",
    "crm_gym.data.wording",
    "crm_gym.data.workflows",
    "crm_gym.data.world",
)
"""The generator's own modules: drawing, wording, moves, the scene, seeding and the driver.

Compiled code checks type hints at run time, so only modules whose hints hold for every value
they are given belong here: not the CRM, whose tools take whatever an agent writes. Each must
type-check with mypy, and none may be patched at run time: calls between compiled modules do
not look names up again (``tests/package/test_compiled.py`` runs the data and env tests on a
compiled build).
"""


def source_path(module: str, root: Path) -> Path:
    """The ``.py`` file of a module under the directory that holds ``crm_gym``."""
    return root.joinpath(*module.split(".")).with_suffix(".py")


def compiled_modules() -> list[str]:
    """The modules of ``COMPILED_MODULES`` that this interpreter imports as compiled code."""
    found = []
    for module in COMPILED_MODULES:
        spec = importlib.util.find_spec(module)
        origin = spec.origin if spec is not None else None
        if origin and origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            found.append(module)
    return found
