"""Fixtures of the env tests: the hand-made tasks and the public data (skipped when absent)."""

from __future__ import annotations

import pytest

from crm_gym.data.conversation import Conversation
from crm_gym.data.loading import load_conversations
from tests.envs.support import hand_made, require_public_data


@pytest.fixture(scope="session")
def tasks() -> list[Conversation]:
    """The four hand-made conversations of ``tests/envs/support.py``."""
    return hand_made()


@pytest.fixture(scope="session")
def public() -> list[Conversation]:
    """The 400 public conversations; skips the test (naming ``ARC_CRM_DATA``) without them."""
    return load_conversations(require_public_data())
