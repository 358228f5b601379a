"""Task sets named on the command line: a JSONL path or ``generated[:N[:SEED]]``, maybe one arm.

``crm-gym eval``, ``crm-gym rescore`` and ``python -m benchmarks.metrics`` read ``--tasks`` here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crm_gym.envs.tasks import arm_of


def load_tasks(spec: str, arm: str | None = None) -> list[Any]:
    """Conversations of a JSONL path or ``generated[:N[:SEED]]``, optionally of one arm."""
    from crm_gym.data import load_conversations
    from crm_gym.generator import DEFAULT_SEED, default_tasks, generate

    if spec == "generated":
        conversations = list(default_tasks())
    elif spec.startswith("generated:"):
        parts = spec.split(":")[1:]
        if len(parts) > 2 or not all(part.isdigit() for part in parts):
            raise ValueError(f"expected generated[:N[:SEED]], got {spec!r}")
        seed = int(parts[1]) if len(parts) == 2 else DEFAULT_SEED
        conversations = list(generate(int(parts[0]), seed))
    elif Path(spec).is_file():
        conversations = list(load_conversations(spec))
    else:
        raise ValueError(f"no such task file: {spec}")
    return of_arm(conversations, arm, spec)


def of_arm(conversations: list[Any], arm: str | None, spec: str) -> list[Any]:
    """The conversations of ``arm`` (all without one); ``spec`` names the set in the error."""
    if arm is None:
        return conversations
    kept = [c for c in conversations if arm_of(c) == arm]
    if not kept:
        raise ValueError(f"no conversation of arm {arm!r} in {spec}")
    return kept
