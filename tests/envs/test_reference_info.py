"""``info["reference"]``: an equal, unshared copy on every step, whatever its values hold."""

from __future__ import annotations

import datetime

from crm_gym.envs import ConversationEnv
from crm_gym.envs.tasks import TaskSource
from crm_gym.envs.turn import TurnScorer


def test_each_info_gets_its_own_copy_of_the_reference(tasks):
    env = ConversationEnv(tasks, expose_reference=True)
    _, info = env.reset(seed=0, options={"task_id": "HAND-deal"})
    expected = dict(info["reference"]["expected_arguments"])
    info["reference"]["expected_arguments"].clear()
    _, _, _, _, again = env.step("{broken")
    assert again["reference"]["expected_arguments"] == expected != {}
    assert again["reference"]["expected_arguments"] is not info["reference"]["expected_arguments"]


def test_values_that_marshal_cannot_write_are_deep_copied(tasks):
    reference = TaskSource(tasks).reference(0).turns[0]
    when = datetime.date(2025, 1, 2)
    scorer = TurnScorer(reference, {"close_date": when, "nested": {"ids": ["a"]}})
    first, second = scorer.reference_info(), scorer.reference_info()
    assert first == second and first["expected_arguments"]["close_date"] == when
    assert first["expected_arguments"]["nested"] is not second["expected_arguments"]["nested"]
