"""The seed's metrics and pass^k on hand-written logs, every number computed by hand."""

import json
import warnings

import pytest

from benchmarks.metrics import pass_at_k, pass_hat_k, summarize, task_outcomes
from benchmarks.records import ConversationRecord, RecordError, load_records

# Log A, policy "alpha": tasks C1, C2, two attempts each.
#   C1 a0: turn 1 ok; turn 2 tool ok, reply wrong      -> strict no, reward_signal 1/2
#   C1 a1: both turns ok                               -> strict yes, reward_signal 1
#   C2 a0: a planned failure that failed as planned    -> strict no (forced), tool_success yes
#   C2 a1: a planned failure that succeeded            -> strict no, no tool-successful turn
LOG_A = """\
{"conversation_id":"C1","attempt":0,"seed":7,"policy":"alpha","overall_success":false,"turns_executed":2,"failed_at_turn":2,"reward_signal":0.5,"shaped_return":0.6,"per_turn_results":[{"turn_id":1,"expect_success":true,"tool_success":true,"response_success":true,"success":true,"verification":"exact_match","reward":1.0,"reward_components":{"tool":1.0}},{"turn_id":2,"expect_success":true,"tool_success":true,"response_success":false,"success":false,"verification":"exact_match","reward":0.2,"reward_components":{"tool":1.0}}]}
{"conversation_id":"C1","attempt":1,"seed":7,"policy":"alpha","overall_success":true,"turns_executed":2,"failed_at_turn":null,"reward_signal":1.0,"shaped_return":1.0,"per_turn_results":[{"turn_id":1,"expect_success":true,"tool_success":true,"response_success":true,"success":true,"verification":"exact_match"},{"turn_id":2,"expect_success":true,"tool_success":true,"response_success":true,"success":true,"verification":"exact_match"}]}
{"conversation_id":"C2","attempt":0,"seed":7,"policy":"alpha","overall_success":false,"turns_executed":1,"failed_at_turn":1,"reward_signal":1.0,"shaped_return":0.8,"per_turn_results":[{"turn_id":1,"expect_success":false,"tool_success":true,"response_success":true,"success":false,"verification":"expected_failure_diagnostic"}]}
{"conversation_id":"C2","attempt":1,"seed":7,"policy":"alpha","overall_success":false,"turns_executed":1,"failed_at_turn":1,"reward_signal":1.0,"shaped_return":0.0,"per_turn_results":[{"turn_id":1,"expect_success":false,"tool_success":false,"response_success":false,"success":false,"verification":"unexpected_success"}]}
"""

# Log B, policy "beta": tasks X, Y, Z, three one-turn attempts each; no shaped_return.
#   X: ok ok ok; Y: ok ok fail (wrong tool); Z: tool ok but reply wrong, three times.
#   latency 1, 2, 3 / 1, 1, 1 / 2, 2, 2 s; cost 0.01 $ and 90 tokens each.
_B = (
    '{{"conversation_id":"{c}","attempt":{a},"seed":0,"policy":"beta","overall_success":{s},'
    '"turns_executed":1,"reward_signal":{r},"latency_s":{lat},"cost_usd":0.01,'
    '"tokens":{{"prompt_tokens":80,"completion_tokens":10,"total_tokens":90}},'
    '"per_turn_results":[{{"turn_id":1,"expect_success":true,"tool_success":{t},'
    '"response_success":{s},"success":{s},"verification":"exact_match"}}]}}'
)
LOG_B = "\n".join(
    _B.format(c=c, a=a, s=s, r=1.0 if s == "true" else 0.0, t=t, lat=lat)
    for c, a, s, t, lat in [
        ("X", 0, "true", "true", 1),
        ("X", 1, "true", "true", 2),
        ("X", 2, "true", "true", 3),
        ("Y", 0, "true", "true", 1),
        ("Y", 1, "true", "true", 1),
        ("Y", 2, "false", "false", 1),
        ("Z", 0, "false", "true", 2),
        ("Z", 1, "false", "true", 2),
        ("Z", 2, "false", "true", 2),
    ]
)

# Log C, policy "gamma": unequal attempts. P: success, failure; Q: one success.
LOG_C = """\
{"conversation_id":"P","attempt":0,"policy":"gamma","overall_success":true,"turns_executed":1,"reward_signal":1.0,"per_turn_results":[{"turn_id":1,"expect_success":true,"tool_success":true,"response_success":true,"success":true,"verification":"exact_match"}]}
{"conversation_id":"P","attempt":1,"policy":"gamma","overall_success":false,"turns_executed":1,"reward_signal":0.0,"per_turn_results":[{"turn_id":1,"expect_success":true,"tool_success":false,"response_success":false,"success":false,"verification":"failed"}]}
{"conversation_id":"Q","attempt":0,"policy":"gamma","overall_success":true,"turns_executed":1,"reward_signal":1.0,"per_turn_results":[{"turn_id":1,"expect_success":true,"tool_success":true,"response_success":true,"success":true,"verification":"exact_match"}]}
"""

# Log D: an upstream result record (SPEC-arc.md 4.3b), none of our fields, judge fields extra.
LOG_D = """\
{"conversation_id":"SKEL-1","overall_success":false,"turns_executed":2,"failed_at_turn":2,"reward_signal":0.5,"error_message":null,"metadata":{"verification_mode":"exact_match","success_path_turns":2},"per_segment_results":null,"chain_success":null,"per_turn_results":[{"turn_id":1,"user_utterance":"Create Acme","tool_name":"create_new_client","arguments":{"name":"Acme"},"expected_tool":"create_new_client","expected_arguments":{"name":"Acme"},"expect_success":true,"matches_expected_tool":true,"matches_expected_arguments":true,"verification":"exact_match","tool_success":true,"response_success":true,"success":true,"judge_used":false,"token_usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}},{"turn_id":2,"tool_name":"client_search","expect_success":true,"verification":"llm_judge","tool_success":false,"response_success":false,"success":false,"judge_used":true,"judge_score":0.4}]}
"""  # noqa: E501


@pytest.fixture
def logs(tmp_path):
    paths = {}
    for name, text in {"a": LOG_A, "b": LOG_B, "c": LOG_C, "d": LOG_D}.items():
        paths[name] = tmp_path / f"{name}.jsonl"
        paths[name].write_text(text)
    return {name: load_records(path) for name, path in paths.items()}


def test_log_a(logs):
    summary = summarize(logs["a"])
    assert summary["metrics/num_conversations"] == 4
    assert summary["metrics/num_turns"] == 6
    assert summary["metrics/num_tasks"] == 2
    assert summary["metrics/strict_success"] == 1 / 4  # only C1 a1
    assert summary["metrics/turn_level_success"] == 5 / 6  # 2 + 2 + 1 + 0 of 6 turns
    assert summary["metrics/capability"] == 3 / 4  # all but C2 a1
    assert summary["metrics/reward_signal"] == pytest.approx((0.5 + 1 + 1 + 1) / 4)
    assert summary["metrics/shaped_return"] == pytest.approx((0.6 + 1.0 + 0.8 + 0.0) / 4)
    # C1 (n=2, c=1), C2 (n=2, c=0)
    assert summary["metrics/pass_hat_1"] == pytest.approx((1 / 2 + 0) / 2)
    assert summary["metrics/pass_hat_2"] == 0.0  # C(1,2) = 0
    assert summary["metrics/pass_at_1"] == pytest.approx((1 / 2 + 0) / 2)
    assert summary["metrics/pass_at_2"] == pytest.approx((1 + 0) / 2)  # 1 - C(1,2)/C(2,2) = 1
    assert "metrics/pass_hat_3" not in summary and "perf/latency_s_mean" not in summary


def test_log_b(logs):
    summary = summarize(logs["b"])
    assert summary["metrics/strict_success"] == pytest.approx(5 / 9)
    assert summary["metrics/turn_level_success"] == pytest.approx(8 / 9)  # Y a2 lacks the tool
    assert summary["metrics/capability"] == pytest.approx(8 / 9)
    assert summary["metrics/reward_signal"] == pytest.approx(5 / 9)
    assert "metrics/shaped_return" not in summary
    # X (3, 3), Y (3, 2), Z (3, 0)
    assert summary["metrics/pass_hat_1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert summary["metrics/pass_hat_2"] == pytest.approx((1 + 1 / 3 + 0) / 3)  # C(2,2)/C(3,2)
    assert summary["metrics/pass_hat_3"] == pytest.approx((1 + 0 + 0) / 3)
    assert summary["metrics/pass_at_2"] == pytest.approx((1 + 1 + 0) / 3)  # 1 - C(1,2)/C(3,2)
    assert summary["metrics/pass_at_3"] == pytest.approx(2 / 3)
    assert summary["perf/latency_s_mean"] == pytest.approx((6 + 3 + 6) / 9)
    assert summary["perf/cost_usd_mean"] == pytest.approx(0.01)
    assert summary["perf/tokens_mean"] == 90


def test_unequal_attempts_leave_short_tasks_out_with_a_warning(logs):
    with pytest.warns(UserWarning, match="pass\\^2: 1 of 2 tasks"):
        summary = summarize(logs["c"])
    assert summary["metrics/strict_success"] == pytest.approx(2 / 3)
    assert summary["metrics/pass_hat_1"] == pytest.approx((1 / 2 + 1) / 2)  # != strict success
    assert summary["metrics/pass_hat_2"] == 0.0  # P only: C(1,2)/C(2,2)
    assert summary["metrics/pass_at_2"] == 1.0  # P only: 1 - C(1,2)/C(2,2)
    with pytest.raises(ValueError, match="n >= 2"):
        pass_hat_k(task_outcomes(logs["c"]).values(), 2)


def test_upstream_record_loads_and_keeps_its_extra_fields(logs):
    (record,) = logs["d"]
    assert record.policy is None and record.attempt == 0 and record.shaped_return is None
    assert record.per_turn_results[1].judge_score == 0.4  # extra="allow"
    summary = summarize(logs["d"])
    assert summary["metrics/turn_level_success"] == 0.5
    assert summary["metrics/capability"] == 1.0 and summary["metrics/strict_success"] == 0.0
    assert json.loads(record.model_dump_json())["per_turn_results"][0]["judge_used"] is False


def test_pass_k_published_shape():
    # tau-bench: pass^k falls with k, pass@k rises; both equal the success rate at k = 1.
    outcomes = [(8, 8), (8, 6), (8, 3), (8, 0)]
    hats = [pass_hat_k(outcomes, k) for k in range(1, 9)]
    ats = [pass_at_k(outcomes, k) for k in range(1, 9)]
    assert hats[0] == ats[0] == pytest.approx(17 / 32)
    assert hats == sorted(hats, reverse=True) and ats == sorted(ats)
    assert hats[-1] == 0.25 and ats[-1] == 0.75


def test_summaries_refuse_mixed_or_duplicated_logs(logs):
    with pytest.raises(ValueError, match="several policy values"):
        summarize(logs["a"] + logs["b"])
    with pytest.raises(RecordError, match="two records for conversation 'C1'"):
        summarize(logs["a"] + logs["a"][:1])
    with pytest.raises(ValueError, match="no records"):
        summarize([])


def test_partial_optional_fields_warn(logs):
    records = [r.model_dump() for r in logs["a"]]
    records[0]["shaped_return"] = None
    with pytest.warns(UserWarning, match="shaped_return missing in 1 of 4"):
        summary = summarize(records)
    assert summary["metrics/shaped_return"] == pytest.approx((1.0 + 0.8 + 0.0) / 3)


def test_bad_log_line_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(LOG_C + '{"conversation_id": "R"}\n')
    with pytest.raises(RecordError, match="bad.jsonl:4"):
        load_records(path)


def test_records_round_trip(logs):
    for records in logs.values():
        for record in records:
            again = ConversationRecord.model_validate_json(record.model_dump_json())
            assert again == record
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summarize(logs["b"])  # equal attempts: no warning
