"""Gymnasium environments over the CRM: ``ArcCrm-v0`` and ``ArcCrmConversation-v0``."""

from crm_gym.envs.conversation_env import ConversationEnv
from crm_gym.envs.crm_env import CrmEnv
from crm_gym.envs.spaces import Unicode

__all__ = ["ConversationEnv", "CrmEnv", "Unicode"]
