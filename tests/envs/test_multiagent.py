"""The student/teacher supervision env: PettingZoo's API tests and the supervision semantics."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import pytest

pytest.importorskip("pettingzoo", reason='needs PettingZoo: pip install "crm-gym[marl]"')

from pettingzoo.test import api_test, parallel_api_test  # noqa: E402

from crm_gym.actions import format_tool_call  # noqa: E402
from crm_gym.data.examples import builtin_path  # noqa: E402
from crm_gym.envs import (
    CrmEnv,  # noqa: E402
    multiagent,  # noqa: E402
)

TASKS = str(builtin_path())
TASK = {"task_id": "BUILTIN-09-unknown-quote#2"}  # "quote_search" turn: a read-only lookup


def reference_call(aec) -> str:
    reference = aec.infos["student"]["reference"]
    return format_tool_call(reference["expected_tool"], reference["expected_arguments"])


def started(**kwargs) -> multiagent.raw_env:
    aec = multiagent.raw_env(tasks=TASKS, expose_reference=True, **kwargs)
    aec.reset(seed=0, options=TASK)
    return aec


# ---- PettingZoo's own tests ----------------------------------------------------------------------
API_WARNINGS = "ignore::UserWarning:pettingzoo.test.api_test"
"""api_test warns that text spaces are not Box/Discrete and that agents are not named player_0."""


@pytest.mark.filterwarnings(API_WARNINGS)
@pytest.mark.parametrize("conversation", [False, True])
def test_api_test(conversation):
    api_test(multiagent.env(tasks=TASKS, conversation=conversation), num_cycles=100)


@pytest.mark.parametrize("conversation", [False, True])
def test_parallel_api_test(conversation):
    parallel_api_test(
        multiagent.parallel_env(tasks=TASKS, conversation=conversation), num_cycles=100
    )


def test_spaces():
    aec = multiagent.env(tasks=TASKS)
    aec.reset(seed=0)
    for agent in aec.possible_agents:
        assert list(aec.observation_space(agent).spaces) == ["text"]
        assert aec.observation_space(agent).contains(aec.observe(agent))
        assert aec.action_space(agent).contains("APPROVE")


# ---- supervision semantics -----------------------------------------------------------------------
def test_approve_executes_the_proposal():
    aec = started()
    call = reference_call(aec)
    aec.step(call)
    assert aec.agent_selection == "teacher"
    assert call in aec.observe("teacher")["text"]
    assert "[assistant]" not in aec.inner.render()  # nothing executed yet
    aec.step("APPROVE")
    assert aec.agent_selection == "student"
    assert aec.infos["student"]["tool_result"]["name"] == "quote_search"
    assert aec.observe("student")["text"].startswith("Tool result (quote_search)")
    assert aec.rewards == {"student": 0.0, "teacher": 0.0}


def test_empty_verdict_approves_and_rewards_both_with_the_task_reward():
    aec = started()
    aec.step(reference_call(aec))
    aec.step("")
    aec.step("Here are the quotes.")
    aec.step("  APPROVE\n")
    assert aec.terminations == {"student": True, "teacher": True}
    assert (
        aec.rewards["student"]
        == aec.rewards["teacher"]
        == aec.infos["student"]["reward_components"]["total"]
    )


def test_guidance_is_shown_not_executed_and_costs_the_teacher():
    aec = started(intervention_cost=0.25)
    aec.step("I am done.")  # a premature answer
    aec.step("Search the quotes first.")
    assert aec.agent_selection == "student"
    assert "[assistant]" not in aec.inner.render() and not aec.terminations["student"]
    assert "Teacher: Search the quotes first." in aec.observe("student")["text"]
    assert aec.infos["student"]["guidance"] == ["Search the quotes first."]
    assert aec.rewards == {"student": 0.0, "teacher": -0.25}
    aec.step(reference_call(aec))
    assert aec.last()[1] == -0.25  # the teacher's reward since it last acted


def test_cap_executes_the_next_proposal_without_review():
    aec = started(max_interventions=2, intervention_cost=0.1)
    returns = {"student": 0.0, "teacher": 0.0}
    for action in ("Done.", "No.", "Done.", "Still no.", "Done."):  # the last runs at once
        aec.step(action)
        returns = {agent: returns[agent] + aec.rewards[agent] for agent in returns}
    assert aec.terminations == {"student": True, "teacher": True}
    total = aec.infos["teacher"]["reward_components"]["total"]
    assert returns == pytest.approx({"student": total, "teacher": total - 0.2})


def test_interventions_reset_after_each_execution():
    aec = started(max_interventions=1)
    aec.step("Done.")
    aec.step("Call a tool first.")
    aec.step(reference_call(aec))  # capped: executes, and the count starts again
    assert aec.infos["student"]["interventions"] == 0
    aec.step("Done.")
    assert aec.agent_selection == "teacher"


def test_rewards_match_the_single_agent_env():
    aec = started()
    call = reference_call(aec)
    single = CrmEnv(tasks=TASKS)
    single.reset(seed=0, options=TASK)
    single.step(call)
    *_, reward_single, _, _, _ = single.step("Found them.")
    for action in (call, "APPROVE", "Found them.", "APPROVE"):
        aec.step(action)
    assert aec.rewards == {"student": reward_single, "teacher": reward_single}


def test_truncation_follows_the_inner_env():
    aec = started(max_steps=1)
    aec.step(reference_call(aec))
    aec.step("APPROVE")
    assert aec.truncations == {"student": True, "teacher": True}
    assert aec.terminations == {"student": False, "teacher": False}
    aec.step(None)
    aec.step(None)
    assert aec.agents == []


def test_conversation_mode_moves_to_the_next_turn():
    aec = multiagent.raw_env(tasks=TASKS, conversation=True)
    aec.reset(seed=0, options={"task_id": "BUILTIN-09-unknown-quote"})
    aec.step("Done.")
    aec.step("APPROVE")
    assert not aec.terminations["student"]
    assert aec.observe("student")["text"].startswith("User: ")


def test_render_shows_the_supervision():
    aec = started(render_mode="ansi")
    aec.step("Done.")
    aec.step("Look again.")
    assert aec.render().splitlines()[-2:] == ["[student] Done.", "[teacher] Look again."]


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="intervention_cost"):
        multiagent.raw_env(tasks=TASKS, intervention_cost=-1)
    with pytest.raises(ValueError, match="max_interventions"):
        multiagent.raw_env(tasks=TASKS, max_interventions=-1)


# ---- parallel form ---------------------------------------------------------------------------
def test_parallel_form_alternates_and_ignores_the_waiting_agent():
    par = multiagent.parallel_env(tasks=TASKS, intervention_cost=0.05)
    par.reset(seed=0, options=TASK)
    _, rewards, _, _, infos = par.step({"student": "Done.", "teacher": "ignored: not its turn"})
    assert infos["student"]["active_agent"] == "teacher" and rewards["teacher"] == 0.0
    observations, rewards, _, _, infos = par.step(
        {"student": "ignored", "teacher": "Search first."}
    )
    assert rewards == {"student": 0.0, "teacher": -0.05}
    assert infos["teacher"]["active_agent"] == "student"
    assert "Search first." in observations["student"]["text"]


# ---- packaging -------------------------------------------------------------------------------
def test_importing_crm_gym_imports_no_pettingzoo_and_registers_nothing():
    heavy = "('pettingzoo', 'torch')"
    code = f"import sys, crm_gym.envs; print([m for m in {heavy} if sys.modules.get(m)])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert not [env_id for env_id in gym.registry if "upervis" in env_id]
