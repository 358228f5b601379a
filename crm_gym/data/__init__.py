"""The Arc conversation format: models, loading, templates, seeding, replay, labels and lint.

It imports nothing from the generator (``crm_gym.generator``), which writes this format.
"""

from crm_gym.data.conversation import Conversation, ExpectedResponse, Turn
from crm_gym.data.loading import load_conversations, read_conversations
from crm_gym.data.replay import ConversationResult, TurnResult, replay, summarize

__all__ = [
    "Conversation",
    "ConversationResult",
    "ExpectedResponse",
    "Turn",
    "TurnResult",
    "load_conversations",
    "read_conversations",
    "replay",
    "summarize",
]
