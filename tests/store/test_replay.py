"""The public replay on every store: 400/400 conversations, the memory store's turn results."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crm_gym.crm.store import Store
from crm_gym.data import load_conversations, replay
from tests.store.conftest import EMPTY

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def conversations() -> list:
    configured = os.environ.get("ARC_CRM_DATA")
    path = (
        Path(configured) if configured else REPO.parent / "shared" / "arc" / "evaluation_400.jsonl"
    )
    if not path.is_file():
        pytest.skip(
            f"public Arc data not found at {path}; set ARC_CRM_DATA to evaluation_400.jsonl"
        )
    return load_conversations(path)


def test_public_replay_passes_on_every_store(store: Store, conversations: list) -> None:
    results = []
    for conversation in conversations:
        store.restore(EMPTY)
        results.append(replay(conversation, store=store))
    failures = [
        (r.conversation_id, r.error or [t.error for t in r.turns if not t.passed]) for r in results
    ]
    assert [f for f, r in zip(failures, results, strict=True) if not r.passed] == []
    assert sum(r.passed for r in results) == len(conversations) == 400
    memory = [replay(conversation) for conversation in conversations]
    assert [r.turns for r in results] == [r.turns for r in memory]  # payloads and errors included
