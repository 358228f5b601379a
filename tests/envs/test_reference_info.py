"""``info["reference"]``: a plain copy, equal on every step, resolved against this episode's run."""

from __future__ import annotations

import copy
import datetime

import pytest

from crm_gym.envs import ConversationEnv
from crm_gym.envs.tasks import TaskSource
from crm_gym.scoring.turn import TurnScorer


def test_the_reference_is_a_plain_copy_that_edits_do_not_reach(tasks):
    env = ConversationEnv(tasks, expose_reference=True)
    _, info = env.reset(seed=0, options={"task_id": "HAND-deal"})
    arguments = info["reference"]["expected_arguments"]
    expected = copy.deepcopy(arguments)
    assert type(info["reference"]) is dict and type(arguments) is dict
    arguments.clear()  # plain and editable: each info holds its own copy
    _, _, _, _, again = env.step("{broken")
    assert again["reference"]["expected_arguments"] == expected != {}
    again["reference"]["expected_arguments"]["criteria"]["stage"] = "Closed-Won"
    _, _, _, _, third = env.step("{broken")
    assert third["reference"]["expected_arguments"] == expected


def test_untemplated_turns_share_one_view_and_templated_ones_resolve(tasks):
    source = TaskSource(tasks)
    for index in range(len(source)):
        for turn in source.reference(index).turns:
            scorer = TurnScorer(turn, {"resolved": "here"})
            info = scorer.reference_info()
            assert info is scorer.reference_info()
            if turn.templated:
                assert info["expected_arguments"] == {"resolved": "here"}
            else:
                assert info is turn.shared_info
                assert info["expected_arguments"] == turn.turn.expected_args


def test_any_value_is_kept_exactly(tasks):
    source = TaskSource(tasks)
    turns = [turn for i in range(len(source)) for turn in source.reference(i).turns]
    templated = [turn for turn in turns if turn.templated]
    assert templated and len(templated) < len(turns)  # the fixture has both kinds
    when = datetime.date(2025, 1, 2)
    info = TurnScorer(templated[0], {"close_date": when, "nested": {"ids": ["a"]}}).reference_info()
    assert info["expected_arguments"] == {"close_date": when, "nested": {"ids": ["a"]}}
    with pytest.raises(TypeError, match="read-only"):
        info["expected_arguments"]["nested"]["ids"].append("b")
