"""Where an env's tasks come from, how they are indexed by curriculum arm, and their references."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from crm_gym.data.conversation import Conversation
from crm_gym.data.loading import load_conversations
from crm_gym.envs.reference import ConversationReference, build_reference
from crm_gym.errors import DatasetError

TaskSpec = str | Path | Sequence[Conversation] | None
"""A JSONL path, a list of conversations, or None for the default generated tasks."""
UNLABELLED = "unlabelled"
"""The arm of a conversation without skill and difficulty labels (hand-made tasks)."""


def arm_of(conversation: Conversation) -> str:
    """The curriculum arm of a conversation: ``"<skill>-<difficulty>"`` from its labels."""
    skill = getattr(conversation, "skill", None)
    difficulty = getattr(conversation, "difficulty", None)
    if isinstance(skill, str) and isinstance(difficulty, str):
        return f"{skill}-{difficulty}"
    return UNLABELLED


def _index_by_id(conversations: Sequence[Conversation]) -> dict[str, int]:
    """Position of each ``conversation_id``; a repeated id would hide a task from ``task_id``."""
    index_of: dict[str, int] = {}
    for index, conversation in enumerate(conversations):
        first = index_of.setdefault(conversation.conversation_id, index)
        if first != index:
            raise DatasetError(
                f"duplicate conversation_id {conversation.conversation_id!r} "
                f"(tasks {first} and {index})"
            )
    return index_of


class TaskSource:
    """Conversations by index, id and arm, with their reference runs built once and cached."""

    def __init__(self, conversations: Sequence[Conversation], strict_upstream: bool = False):
        if not conversations:
            raise DatasetError("a task source needs at least one conversation, got none")
        self.conversations = list(conversations)
        self.strict_upstream = strict_upstream
        self.index_of = _index_by_id(self.conversations)
        self.arms: dict[str, list[int]] = {}
        for index, conversation in enumerate(self.conversations):
            self.arms.setdefault(arm_of(conversation), []).append(index)
        self._references: dict[int, ConversationReference] = {}

    @classmethod
    def from_spec(cls, tasks: TaskSpec, strict_upstream: bool = False) -> TaskSource:
        """Build from a path, a list of conversations, or None (the default task set).

        Raises:
            DataFileError: for a path that is missing or not a clean JSONL file of conversations
                (``crm_gym.data.loading.load_conversations``); DatasetError for repeated ids.
        """
        if tasks is None:
            from crm_gym.generator import default_tasks

            conversations: Sequence[Conversation] = default_tasks()
        elif isinstance(tasks, (str, Path)):
            conversations = load_conversations(tasks)
        else:
            conversations = tasks
        return cls(conversations, strict_upstream)

    def __len__(self) -> int:
        return len(self.conversations)

    def reference(self, index: int) -> ConversationReference:
        """The cached reference run of conversation ``index``."""
        reference = self._references.get(index)
        if reference is None:
            reference = build_reference(self.conversations[index], self.strict_upstream)
            self._references[index] = reference
        return reference

    def pick(self, rng: np.random.Generator, options: dict | None) -> int:
        """A conversation index: by ``conversation_id``/``task_id``, by ``arm``, or at random."""
        options = options or {}
        key = options.get("conversation_id") or options.get("task_id")
        if key is not None:
            conversation_id = str(key).split("#", 1)[0]
            if conversation_id not in self.index_of:
                raise KeyError(f"unknown task {key!r}")
            return self.index_of[conversation_id]
        if options.get("arm") is not None:
            members = self.arms.get(options["arm"])
            if not members:
                raise KeyError(
                    f"unknown or empty arm {options['arm']!r}; arms: {sorted(self.arms)}"
                )
            return members[int(rng.integers(len(members)))]
        return int(rng.integers(len(self.conversations)))
