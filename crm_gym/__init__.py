"""crm-gym: Gymnasium environments for LLM agents that work a CRM through tools.

Importing ``crm_gym`` registers ``ArcCrm-v1`` and ``ArcCrmConversation-v1`` with Gymnasium;
``gymnasium.make("crm_gym:ArcCrm-v1")`` imports it for you.
"""

from crm_gym.crm import CrmApi
from crm_gym.envs.vector import make_vec
from crm_gym.errors import CrmError
from crm_gym.registration import register_envs
from crm_gym.scoring import RewardConfig

__version__ = "0.1.0"
__all__ = ["CrmApi", "CrmError", "RewardConfig", "__version__", "make_vec"]

register_envs()
