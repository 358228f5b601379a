"""Guidelines in the prompt: injected by build_messages, within the budget, backwards compatible."""

from __future__ import annotations

from agents.memory import GuidelineMemory, MemoryPolicy
from agents.policy import Observation, Sample
from agents.prompts import (
    GUIDELINE_HEADER,
    MAX_GUIDELINE_CHARS,
    build_messages,
    fit_guidelines,
    guideline_block,
    system_prompt,
)

TRANSCRIPT = [
    {"role": "user", "content": "User: Delete quote 1b2c3d4e-0000-4000-8000-000000000001."}
]


def test_without_guidelines_the_prompt_is_unchanged():
    observation = Observation("x", {"messages": TRANSCRIPT})
    assert build_messages(observation, "compact")[0]["content"] == system_prompt("compact")
    assert build_messages(observation, "compact", guidelines=[])[0]["content"] == system_prompt(
        "compact"
    )


def test_guidelines_are_injected_into_the_system_prompt():
    observation = Observation("x", {"messages": TRANSCRIPT})
    system = build_messages(observation, "full", guidelines=["Call delete_quote."])[0]["content"]
    assert system.startswith(system_prompt("full"))
    assert system.endswith(f"{GUIDELINE_HEADER}\n- Call delete_quote.")


def test_info_guidelines_are_the_default_and_an_argument_overrides_them():
    observation = Observation("x", {"messages": TRANSCRIPT, "guidelines": ["from info"]})
    assert "- from info" in build_messages(observation, "compact")[0]["content"]
    assert "from info" not in build_messages(observation, "compact", guidelines=())[0]["content"]


def test_the_block_stays_within_its_budget():
    many = [f"guideline {i} " + "x" * 100 for i in range(100)]
    block = guideline_block(many)
    assert len(block) <= MAX_GUIDELINE_CHARS
    assert fit_guidelines(many, 300) == many[:2]
    assert fit_guidelines(["y" * 5000]) == []  # a guideline is dropped, never cut


class _Echo:
    """Answers with its prompt's system message, to see what the backend was given."""

    def act(self, observations, n=1, sampling=None):
        return [[Sample(build_messages(o, "compact")[0]["content"])] * n for o in observations]


def test_memory_policy_injects_retrieved_guidelines_for_any_backend():
    memory = GuidelineMemory()
    memory.write(TRANSCRIPT[0]["content"], "Call delete_quote with quote_id.")
    policy = MemoryPolicy(_Echo(), memory, k=2)
    [[sample]] = policy.act([Observation("x", {"messages": TRANSCRIPT, "task_id": "t"})])
    assert sample.text.endswith("- Call delete_quote with quote_id.")
    stats = policy.stats["t"]
    assert (stats.calls, stats.retrieved, stats.injected, stats.calls_with_cue) == (1, 1, 1, 1)
    assert stats.prompt_tokens > 0


def test_memory_policy_without_memory_counts_but_injects_nothing():
    policy = MemoryPolicy(_Echo(), None)
    [[sample]] = policy.act([Observation("x", {"messages": TRANSCRIPT, "task_id": "t"})])
    assert sample.text == system_prompt("compact")
    assert policy.stats["t"].retrieved == 0
