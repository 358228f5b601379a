"""Wrappers over the CRM envs: ``CandidateActions`` (numbers for SB3) and ``ChatMessages``."""

from crm_gym.envs.wrappers.chat import ChatMessages
from crm_gym.envs.wrappers.sb3 import CandidateActions

__all__ = ["CandidateActions", "ChatMessages"]
