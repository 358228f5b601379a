"""The guideline memory: write/read, ranking, size bound, persistence, de-duplication."""

from __future__ import annotations

import json

import pytest

import agents
from agents.memory import (
    GuidelineMemory,
    bm25_scores,
    request_key,
    success_guideline,
    summarise_trajectory,
    write_trajectories,
)

REQUESTS = [
    "User: Delete quote 1b2c3d4e-0000-4000-8000-000000000001, please.",
    "User: Create a new client 'Acme' with email ops@acme.com.",
    "User: List every contract of client 5b2c3d4e-0000-4000-8000-000000000002.",
    "User: Change the stage of opportunity 6b2c3d4e-0000-4000-8000-000000000003 to Proposal.",
]


def _filled(path=None, **kwargs) -> GuidelineMemory:
    memory = GuidelineMemory(path, **kwargs)
    for index, request in enumerate(REQUESTS):
        memory.write(request, f"guideline {index}", task=f"arm-{index}")
    return memory


def test_agents_package_resolves_inside_the_repository():
    assert "site-packages" not in agents.__file__


def test_write_then_read_round_trips():
    memory = _filled()
    [found] = memory.retrieve(REQUESTS[1], k=1)
    assert (found.text, found.task, found.key) == ("guideline 1", "arm-1", request_key(REQUESTS[1]))


def test_an_exact_match_ranks_first_even_with_other_values():
    memory = _filled()
    for index, request in enumerate(REQUESTS):
        other_values = request.replace("0000-4000", "1111-4000").replace("Acme", "Globex")
        assert memory.retrieve(other_values, k=3)[0].text == f"guideline {index}"


def test_retrieve_returns_at_most_k_and_nothing_when_empty():
    assert GuidelineMemory().retrieve("anything") == []
    assert len(_filled().retrieve(REQUESTS[0], k=2)) <= 2
    assert _filled().retrieve(REQUESTS[0], k=0) == []


def test_unrelated_words_retrieve_nothing():
    assert _filled().retrieve("zebra xylophone", k=3) == []


def test_a_single_shared_filler_word_is_below_the_similarity_floor():
    memory = _filled()
    assert memory.retrieve("zebra xylophone quokka narwhal, please.", k=3) == []
    assert _filled(min_similarity=0.0).retrieve("zebra xylophone quokka narwhal, please.") != []
    assert 0.99 < max(memory.similarities(request_key(REQUESTS[0]))) < 1.01


def test_the_size_bound_holds_and_evicts_the_least_confirmed_oldest():
    memory = GuidelineMemory(max_entries=3)
    memory.write(REQUESTS[0], "keep me")
    memory.write(REQUESTS[0], "keep me")  # confirmed twice
    for index in range(1, 4):
        memory.write(REQUESTS[index], f"guideline {index}")
    assert len(memory) == 3
    texts = {g.text for g in memory.entries}
    assert "keep me" in texts and "guideline 1" not in texts


def test_repeats_are_counted_not_duplicated():
    memory = GuidelineMemory()
    memory.write(REQUESTS[0], "same")
    memory.write(REQUESTS[0].replace("0001", "0009"), "same")  # same masked request
    assert len(memory) == 1 and memory.entries[0].count == 2


def test_persistence_survives_a_restart(tmp_path):
    path = tmp_path / "memory.db"
    before = _filled(path, max_entries=10)
    after = GuidelineMemory(path, max_entries=10)
    assert after.entries == before.entries
    after.write("User: something new", "new guideline")
    assert len(GuidelineMemory(path)) == len(REQUESTS) + 1
    assert after.export_jsonl(tmp_path / "memory.jsonl") == len(REQUESTS) + 1
    lines = (tmp_path / "memory.jsonl").read_text().splitlines()
    assert [json.loads(line)["text"] for line in lines][-1] == "new guideline"


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="max_entries"):
        GuidelineMemory(max_entries=0)
    with pytest.raises(ValueError, match="similarity"):
        GuidelineMemory(similarity="cosine")


def test_bm25_prefers_the_document_with_the_query_terms():
    scores = bm25_scores(["delete", "quote"], [["delete", "quote"], ["list", "contracts"], []])
    assert scores[0] > 0 and scores[1] == 0 and scores[2] == 0


def test_the_summariser_turns_a_replayed_episode_into_tool_guidelines():
    from agents.baselines import ReplayPolicy
    from agents.rollout import collect_rollouts
    from crm_gym import make_vec
    from crm_gym.generator import generate

    tasks = list(generate(3, 5, failure_share=0.0))
    envs = make_vec("ArcCrmConversation-v1", 1, tasks=tasks, expose_reference=True)
    options = [{"task_id": c.conversation_id} for c in tasks]
    trajectories = collect_rollouts(envs, ReplayPolicy(), options=options, seed=0)
    pairs = summarise_trajectory(trajectories[0])
    turn = tasks[0].turns[0]
    assert request_key(pairs[0][0]) == request_key(turn.user_utterance)
    assert pairs[0][1] == success_guideline(
        turn.user_utterance, turn.expected_tool, turn.expected_args or {}
    )
    assert "call " + turn.expected_tool in pairs[0][1]
    memory = GuidelineMemory()
    expected = sum(len(summarise_trajectory(t)) for t in trajectories)
    assert write_trajectories(memory, trajectories) == expected


def test_teacher_guidance_is_written_under_the_current_request():
    from agents.memory import write_guidance
    from crm_gym.data.examples import builtin_path
    from crm_gym.envs.multiagent import raw_env

    aec = raw_env(tasks=str(builtin_path()))
    aec.reset(seed=0)
    aec.step("All done.")  # the student answers without calling a tool
    aec.step("Look the client up first.")  # the teacher guides
    memory = GuidelineMemory()
    assert write_guidance(memory, aec.infos["student"]) == 1
    request = next(m["content"] for m in aec.infos["student"]["messages"] if m["role"] == "user")
    [found] = memory.retrieve(request, k=1)
    assert (found.text, found.source) == ("Teacher: Look the client up first.", "teacher")
