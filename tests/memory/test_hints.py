"""The scripted controls: a policy that follows guidelines, and one that ignores them."""

from __future__ import annotations

import json

from agents.hints import HintFollowingPolicy, HintIgnoringPolicy, extract_arguments, guided_tool
from agents.memory import success_guideline
from agents.policy import Observation, SamplingParams
from crm_gym.crm.tools import tool_schemas

QUOTE = "1b2c3d4e-0000-4000-8000-000000000001"
REQUEST = f"User: Set quote {QUOTE} to status Approved, please."
GUIDE = success_guideline(REQUEST, "modify_quote", ["quote_id", "status"])


def _schema(name: str) -> dict:
    return next(
        s["function"]["parameters"] for s in tool_schemas() if s["function"]["name"] == name
    )


def test_guided_tool_reads_the_success_guideline():
    assert guided_tool(["Teacher: look first.", GUIDE]) == ("modify_quote", ["quote_id", "status"])
    assert guided_tool(["no call here"]) is None


def test_arguments_come_from_the_request():
    arguments = extract_arguments(["quote_id", "status"], _schema("modify_quote"), REQUEST, [])
    assert arguments["quote_id"] == QUOTE


def _act(policy, guidelines):
    info = {"messages": [{"role": "user", "content": REQUEST}], "guidelines": guidelines}
    [[sample]] = policy.act([Observation(REQUEST, info)], sampling=SamplingParams(seed=3))
    return json.loads(sample.text)


def test_the_follower_calls_the_guided_tool_and_the_ignorer_does_not_look():
    assert _act(HintFollowingPolicy(), [GUIDE])["name"] == "modify_quote"
    assert _act(HintIgnoringPolicy(), [GUIDE]) == _act(HintIgnoringPolicy(), [])
    assert _act(HintFollowingPolicy(), []) == _act(HintIgnoringPolicy(), [])


def test_after_a_tool_result_it_answers_with_the_result():
    messages = [{"role": "user", "content": REQUEST}, {"role": "tool", "content": '{"ok": 1}'}]
    [[sample]] = HintFollowingPolicy(0).act([Observation("", {"messages": messages})])
    assert sample.text == 'Done. {"ok": 1}'
