"""Scoring, in one place: matching rules, reply facts, the reward and the one "passed" rule.

- ``matching``: upstream's per-turn checks and the argument score;
- ``facts``: the reference reply's reproducible facts, and an answer's recall and precision;
- ``reward``: ``RewardConfig``, ``TurnEvidence``, ``turn_reward`` and ``turn_passed``;
- ``turn``: ``TurnScorer``, which turns an env turn into evidence (imported from its module:
  it needs the env's reference run, which needs ``crm_gym.data.replay``, which needs this).

See docs/rewards.md, the reward card.
"""

from crm_gym.scoring.facts import ResponseScore, reply_facts, response_score
from crm_gym.scoring.matching import argument_score, arguments_match, error_matches
from crm_gym.scoring.reward import RewardConfig, TurnEvidence, turn_passed, turn_reward

__all__ = [
    "ResponseScore",
    "RewardConfig",
    "TurnEvidence",
    "argument_score",
    "arguments_match",
    "error_matches",
    "reply_facts",
    "response_score",
    "turn_passed",
    "turn_reward",
]
