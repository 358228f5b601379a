"""Arc conversation data: models, loading, templates, seeding, replay and lint."""

from crm_gym.data.conversation import Conversation, ExpectedResponse, Turn
from crm_gym.data.loading import load_conversations, read_conversations
from crm_gym.data.replay import ConversationResult, TurnResult, replay, summarize


def default_tasks(n: int = 200, seed: int = 0) -> tuple[Conversation, ...]:
    """The package's default tasks: ``n`` conversations generated from ``seed`` (cached, shared).

    See ``crm_gym.data.generator``, imported on first use (reading data does not need it).
    """
    from crm_gym.data.generator import default_tasks as generated

    return generated(n, seed)


__all__ = [
    "Conversation",
    "ConversationResult",
    "ExpectedResponse",
    "Turn",
    "TurnResult",
    "default_tasks",
    "load_conversations",
    "read_conversations",
    "replay",
    "summarize",
]
