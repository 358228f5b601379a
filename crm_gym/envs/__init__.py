"""Gymnasium environments over the CRM: ``ArcCrm-v1`` and ``ArcCrmConversation-v1``."""

from crm_gym.envs.conversation_env import ConversationEnv
from crm_gym.envs.crm_env import CrmEnv
from crm_gym.envs.spaces import Unicode

__all__ = ["ConversationEnv", "CrmEnv", "Unicode"]
