"""``turn_passed``: the one definition of a passed turn, in both modes."""

from __future__ import annotations

import itertools

import pytest

from crm_gym.scoring import ResponseScore, turn_passed

GOOD_REPLY = ResponseScore(recall=1.0, precision=0.5)


@pytest.mark.parametrize(
    ("called", "arguments", "executed", "response", "passed"),
    [
        (True, 1.0, True, None, True),
        (True, 1.0, True, GOOD_REPLY, True),
        (True, 1.0, True, ResponseScore(1.0, 0.4), False),  # a dump: most claims are no facts
        (True, 1.0, True, ResponseScore(0.5, 1.0), False),  # a fact missing
        (True, 0.99, True, None, False),
        (True, 1.0, False, None, False),
        (False, 1.0, True, None, False),
        (False, 0.0, False, GOOD_REPLY, False),
    ],
)
def test_a_success_turn_needs_the_call_its_outcome_and_the_reply(
    called, arguments, executed, response, passed
):
    for strict in (False, True):  # the success-turn rule is the same in both modes
        assert turn_passed(True, called, arguments, executed, response, strict_upstream=strict) is (
            passed
        )


def test_an_expected_failure_turn_needs_the_tool_the_arguments_and_the_error():
    assert turn_passed(False, True, 1.0, True, expected_tool_failed=True)
    assert not turn_passed(False, True, 0.5, True, expected_tool_failed=True)
    assert not turn_passed(False, True, 1.0, False, expected_tool_failed=True)  # another error
    assert not turn_passed(False, False, 0.0, False)
    # the reply does not count on an expected-failure turn
    assert turn_passed(False, True, 1.0, True, ResponseScore(0.0, 0.0))


def test_strict_upstream_passes_any_failure_of_the_expected_tool():
    for called, arguments, executed in itertools.product((True, False), (0.0, 1.0), (True, False)):
        for failed in (True, False):
            passed = turn_passed(
                False,
                called,
                arguments,
                executed,
                strict_upstream=True,
                expected_tool_failed=failed,
            )
            assert passed is failed
