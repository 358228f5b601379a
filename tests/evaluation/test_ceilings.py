"""Ceilings: the best each metric can be on a task set, shown by eval, report and a command."""

import json
import subprocess
import sys

import pytest

from agents.baselines import ReplayPolicy
from agents.policy import Sample, SamplingParams
from benchmarks.evaluate import evaluate
from benchmarks.metrics import ceilings, summarize
from benchmarks.records import ConversationRecord
from crm_gym.generator import default_tasks, generate


def _record(cid: str, kinds: list[bool], verification: str = "failed") -> ConversationRecord:
    failed = {"tool_success": False, "response_success": False, "success": False}
    turns = [
        {"turn_id": i, "expect_success": kind, **failed, "verification": verification}
        for i, kind in enumerate(kinds, start=1)
    ]
    return ConversationRecord.model_validate(
        {
            "conversation_id": cid,
            "overall_success": False,
            "turns_executed": len(turns),
            "reward_signal": 0.0,
            "per_turn_results": turns,
        }
    )


def test_ceilings_by_hand():
    # A: two success turns; B: a success and a planned failure; C: a planned failure only;
    # D: never ran (one turn); A tried twice.
    records = [
        _record("A", [True, True]),
        _record("A", [True, True]),
        _record("B", [True, False]),
        _record("C", [False]),
        _record("D", [True], verification="pre_execution_error"),
    ]
    tops = ceilings(records)
    assert tops == {
        "ceiling/strict_success": 2 / 5,  # A, A
        "ceiling/pass_hat_k": 1 / 4,  # of the tasks A, B, C, D: only A
        "ceiling/turn_level_success": 7 / 8,  # every turn but D's
        "ceiling/capability": 4 / 5,
        "ceiling/reward_signal": 4 / 5,
        "floor/reward_signal": 1 / 5,  # C: no success-path turn
        "share/planned_failure": 2 / 5,  # B, C
    }


def test_ceilings_of_no_conversations_raise():
    with pytest.raises(ValueError, match="no conversations"):
        ceilings([])


class DoNothing:
    """Answers ``Done.`` to every turn and never calls a tool."""

    def act(self, observations, n: int = 1, sampling: SamplingParams | None = None):
        return [[Sample("Done.")] * n for _ in observations]


@pytest.fixture(scope="module")
def tasks():
    return list(default_tasks())


def test_replay_reaches_every_ceiling_and_doing_nothing_the_floor(tasks):
    tops = ceilings(tasks)
    replay = evaluate(
        tasks, ReplayPolicy(), policy_name="replay", expose_reference=True, progress=False
    )
    nothing = evaluate(tasks, DoNothing(), policy_name="nothing", progress=False)
    assert ceilings(replay) == ceilings(nothing) == tops
    best = summarize(replay)
    for key in ("strict_success", "turn_level_success", "capability", "reward_signal"):
        assert best[f"metrics/{key}"] == tops[f"ceiling/{key}"], key
    assert best["metrics/pass_hat_1"] == tops["ceiling/pass_hat_k"]
    assert summarize(nothing)["metrics/reward_signal"] == tops["floor/reward_signal"] > 0


def test_default_generated_tasks_cap_strict_success():
    tops = ceilings(default_tasks())
    assert tops["share/planned_failure"] == pytest.approx(1 - tops["ceiling/strict_success"])
    assert tops["ceiling/strict_success"] < 0.3 and tops["ceiling/turn_level_success"] == 1.0


def test_ceilings_command_prints_json():
    command = [sys.executable, "-m", "benchmarks.metrics", "--ceilings", "generated:30:5"]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)
    printed = json.loads(done.stdout)
    assert printed["conversations"] == 30
    assert {k: v for k, v in printed.items() if "/" in k} == ceilings(generate(30, 5))


def test_ceilings_command_names_a_missing_file(tmp_path):
    missing = tmp_path / "nope.jsonl"
    command = [sys.executable, "-m", "benchmarks.metrics", "--ceilings", str(missing)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and not done.stdout
    assert done.stderr.count("\n") == 1 and str(missing) in done.stderr


def test_report_shows_ceilings(tasks):
    pytest.importorskip("rliable", reason='needs the report extra: pip install "crm-gym[report]"')
    from benchmarks.plots import render_markdown
    from benchmarks.report import ReportOptions, build_report

    twice = dict(attempts=2, progress=False)
    replay = evaluate(tasks, ReplayPolicy(), policy_name="replay", expose_reference=True, **twice)
    nothing = evaluate(tasks, DoNothing(), policy_name="nothing", **twice)
    logs = {"replay": replay, "nothing": nothing}
    report = build_report(logs, ReportOptions(reps=50))  # two runs each: the two attempts
    assert report["ceilings"] == {"replay": ceilings(tasks), "nothing": ceilings(tasks)}
    text = render_markdown(report)
    strict = f"{ceilings(tasks)['ceiling/strict_success']:.3f}"
    (row,) = [line for line in text.splitlines() if line.startswith("| ceiling (perfect agent)")]
    assert row.split(" | ")[2] == strict
    assert f"{ceilings(tasks)['share/planned_failure']:.0%} of the conversations plan" in text


def test_eval_prints_ceilings(tmp_path, capsys):
    from scripts.cli import main

    args = ["eval", "--policy", "replay", "--tasks", "generated:20:3", "--no-progress"]
    args += ["-o", str(tmp_path / "log.jsonl")]
    assert main(args) == 0
    out = capsys.readouterr().out
    strict = ceilings(generate(20, 3))["ceiling/strict_success"]
    assert f"strict_success       {strict:.4f}  (ceiling {strict:.4f})" in out
    assert "turn_level_success   1.0000  (ceiling 1.0000)" in out
    assert "reward_signal floor" in out
