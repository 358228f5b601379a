"""The deterministic scenario generator: seeded, diverse conversations in the Arc format.

``generate(n, seed, **mix)`` yields ``Conversation`` objects; ``generate_lines`` the JSON lines
(in parallel with ``workers``); ``default_tasks()`` is the package's default task set (200
conversations of seed 0, cached). It builds on the format in ``crm_gym.data``, never the reverse.
"""

from crm_gym.generator.conversations import (
    DEFAULT_SEED,
    Mix,
    default_tasks,
    generate,
    generate_lines,
    make_conversation,
    to_json,
)

__all__ = [
    "DEFAULT_SEED",
    "Mix",
    "default_tasks",
    "generate",
    "generate_lines",
    "make_conversation",
    "to_json",
]
