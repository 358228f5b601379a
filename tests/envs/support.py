"""Small hand-made conversations, the data paths and the replay policy shared by the env tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
from hypothesis import strategies as st

from crm_gym.actions import format_tool_call
from crm_gym.data.conversation import Conversation

REPO = Path(__file__).resolve().parents[2]
ENV_IDS = ("ArcCrm-v1", "ArcCrmConversation-v1")

ACME = "0a5e8c1e-1111-4111-8111-000000000001"
DEAL = "0a5e8c1e-2222-4222-8222-000000000002"
ACME_EMAIL = "contact@acme.example"


def public_data_path() -> Path:
    """``$ARC_CRM_DATA``, else the shared copy next to the repository."""
    configured = os.environ.get("ARC_CRM_DATA")
    return (
        Path(configured) if configured else REPO.parent / "shared" / "arc" / "evaluation_400.jsonl"
    )


def require_public_data() -> Path:
    """The public data file, or skip the calling test naming ``ARC_CRM_DATA``."""
    path = public_data_path()
    if not path.is_file():
        pytest.skip(
            f"public Arc data not found at {path}; set ARC_CRM_DATA to evaluation_400.jsonl"
        )
    return path


# ---- hand-made conversations ---------------------------------------------------------------------
SEED = {
    "seed_data": {
        "Client": {ACME: {"name": "Acme", "email": ACME_EMAIL, "status": "Active"}},
        "Opportunity": {
            DEAL: {
                "name": "Q4 Sales Opportunity",
                "client_id": ACME,
                "stage": "Qualification",
                "amount": 100000,
                "probability": 50,
            },
        },
    }
}


def reply(text: str) -> dict[str, Any]:
    return {"text": text, "evaluation": "structured", "answers": [text]}


def conversation(conversation_id: str, *turns: dict[str, Any]) -> Conversation:
    """A conversation over the Acme seed; turns are numbered in order."""
    numbered = [{"turn_id": i, **turn} for i, turn in enumerate(turns, start=1)]
    complexity = "simple" if len(turns) <= 3 else "medium"
    return Conversation.model_validate(
        {
            "conversation_id": conversation_id,
            "complexity_level": complexity,
            "turns": numbered,
            "initial_entities": SEED,
        }
    )


NEW_CLIENT = {
    "user_utterance": "Add Globex as a prospect, email ops@globex.example.",
    "expected_tool": "create_new_client",
    "expected_args": {"name": "Globex", "email": "ops@globex.example", "status": "Prospect"},
    "expected_response": reply("Globex is now a Prospect client."),
}
FIND_DEAL = {
    "user_utterance": "Which Acme deals are in Qualification?",
    "expected_tool": "opportunity_search",
    "expected_args": {"criteria": {"client_id": ACME, "stage": "Qualification"}},
    "expected_response": reply("One: Q4 Sales Opportunity, 100000.0 at 50%."),
}


def move_deal(found_in: int) -> dict[str, Any]:
    """Modify the deal that turn ``found_in`` found (a ``{{turn_N.opportunity_id}}`` template)."""
    template = f"{{{{turn_{found_in}.opportunity_id}}}}"
    return {
        "user_utterance": f"Move {template} to Negotiation at 70%.",
        "expected_tool": "modify_opportunity",
        "expected_args": {
            "opportunity_id": template,
            "updates": {"stage": "Negotiation", "probability": 70},
        },
        "expected_response": reply("Done: Q4 Sales Opportunity is in Negotiation."),
    }


DUPLICATE = {
    "user_utterance": f"Create an active client Acme Two with email {ACME_EMAIL.upper()}.",
    "expected_tool": "create_new_client",
    "expected_args": {"name": "Acme Two", "email": ACME_EMAIL.upper(), "status": "Active"},
    "expect_success": False,
    "expected_error_substring": "already exists",
    "expected_response": reply("That email is taken, so I created nothing."),
}
COUNTS = {
    "user_utterance": "How many records of each kind are there?",
    "expected_tool": "summarize_counts",
    "expected_args": {},
}


def hand_made() -> list[Conversation]:
    """Four small conversations: a create, a two-turn search-then-modify, a failure, a count."""
    return [
        conversation("HAND-new-client", NEW_CLIENT),
        conversation("HAND-deal", FIND_DEAL, move_deal(1)),
        conversation("HAND-duplicate", DUPLICATE),
        conversation("HAND-mixed", COUNTS, NEW_CLIENT, FIND_DEAL, move_deal(3)),
    ]


# ---- the replay policy ---------------------------------------------------------------------------
def replay_call(info: dict[str, Any]) -> str:
    """The reference's tool call (arguments resolved against this episode's own results)."""
    reference = info["reference"]
    return format_tool_call(reference["expected_tool"], reference["expected_arguments"])


def replay_answer(info: dict[str, Any]) -> str:
    """The reference's reply, or any text when the turn has none."""
    return info["reference"]["expected_response"] or "Done."


def replay_episode(env: gym.Env, options: dict[str, Any]) -> tuple[float, list[dict[str, float]]]:
    """Run the replay policy for one episode: its return and every turn's reward components."""
    _, info = env.reset(options=options)
    total, turns, done = 0.0, [], False
    while not done:
        answer = replay_answer(info)
        _, reward, terminated, truncated, info = env.step(replay_call(info))
        assert reward == 0.0 and not (terminated or truncated)
        _, reward, terminated, truncated, info = env.step(answer)
        total += reward
        turns.append(info["reward_components"])
        done = terminated or truncated
    return total, turns


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
"""Any JSON value (hypothesis), for the property tests of parsing and info containers."""
