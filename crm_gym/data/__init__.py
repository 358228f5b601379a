"""Arc conversation data: models, loading, templates, seeding, replay and lint."""

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
