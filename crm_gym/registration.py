"""Registering the env ids with Gymnasium (string entry points: registering imports nothing)."""

import gymnasium as gym

ENV_IDS = {
    "ArcCrm-v1": "crm_gym.envs.crm_env:CrmEnv",
    "ArcCrmConversation-v1": "crm_gym.envs.conversation_env:ConversationEnv",
}


def plays_whole_conversations(env_id: str) -> bool:
    """Whether an episode of ``env_id`` is a whole conversation (else one user turn)."""
    return env_id.startswith("ArcCrmConversation")


def register_envs() -> None:
    """Register every crm-gym env id (idempotent)."""
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)
