"""The optional dependencies of ``agents``, checked where they are needed."""

from __future__ import annotations

import importlib.util

TRAIN_PACKAGES = ("torch", "transformers", "tokenizers")


def require_train() -> None:
    """Raise an ``ImportError`` naming the extra when torch or transformers is missing."""
    missing = [name for name in TRAIN_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"{', '.join(missing)} not installed; this part of agents needs the training extra: "
            'pip install "crm-gym[train]"'
        )
