"""Every training preset says which reward it trains on (issue #18)."""

import argparse

import pytest

from agents.presets import PRESETS
from scripts.train_cmd import add_train_arguments, build_args


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_names_reward_mode(name):
    assert PRESETS[name].get("reward_mode") in ("shaped", "binary"), name


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_reward_mode_reaches_args(name, tmp_path):
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    args = build_args(parser.parse_args(["--preset", name, "--output", str(tmp_path)]))
    assert args.reward_mode == PRESETS[name]["reward_mode"]
