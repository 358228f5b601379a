"""Fixtures of the policy tests: one tiny model per session, its policy, and the public data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crm_gym.data.conversation import Conversation
from crm_gym.data.loading import load_conversations

REPO = Path(__file__).resolve().parents[2]


def public_data_path() -> Path:
    """``$ARC_CRM_DATA``, else the shared copy next to the repository."""
    configured = os.environ.get("ARC_CRM_DATA")
    return (
        Path(configured) if configured else REPO.parent / "shared" / "arc" / "evaluation_400.jsonl"
    )


@pytest.fixture(scope="session")
def public() -> list[Conversation]:
    """The 400 public conversations; skips the test, naming ``ARC_CRM_DATA``, without them."""
    path = public_data_path()
    if not path.is_file():
        pytest.skip(
            f"public Arc data not found at {path}; set ARC_CRM_DATA to evaluation_400.jsonl"
        )
    return load_conversations(path)


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model built offline once per session."""
    pytest.importorskip(
        "transformers", reason='needs the train extra: pip install "crm-gym[train]"'
    )
    from agents.tiny import build_tiny_model

    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        return build_tiny_model(tmp_path_factory.mktemp("tiny"), seed=0)
    finally:
        if previous is None:
            del os.environ["HF_HUB_OFFLINE"]
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


@pytest.fixture(scope="session")
def policy(tiny_path: Path):
    """``HFPolicy`` over the tiny model on the CPU, compact prompts."""
    from agents.hf import HFPolicy

    return HFPolicy(tiny_path, device="cpu", prompt_style="compact")
