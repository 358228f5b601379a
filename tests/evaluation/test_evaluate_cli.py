"""``crm-gym eval``: task sources, arms, appending runs, exit codes."""

from __future__ import annotations

import json

import pytest

from benchmarks.metrics import summarize
from benchmarks.records import load_records
from benchmarks.task_sets import load_tasks
from crm_gym.envs.tasks import arm_of
from crm_gym.errors import PolicySpecError
from crm_gym.generator import generate
from scripts.cli import main


def test_eval_replay_on_generated_tasks(tmp_path, capsys):
    log = tmp_path / "replay.jsonl"
    argv = [
        "eval",
        "--policy",
        "replay",
        "--tasks",
        "generated:5:1",
        "--attempts",
        "2",
        "-o",
        str(log),
        "--no-progress",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "turn_level_success   1.0000" in out and "10 records of seed 0" in out
    assert main(argv) == 0  # a rerun finds everything done and adds nothing
    records = load_records(log)
    assert len(records) == 10 and {r.policy for r in records} == {"replay"}


def _eval(*argv: str) -> int:
    return main(["eval", *argv, "--no-progress"])


def test_eval_writes_one_log_per_run(tmp_path, capsys):
    for seed in range(2):  # one log per seed: the report pools them as the runs of one policy
        log = str(tmp_path / f"random-{seed}.jsonl")
        flags = ["--policy", "random", "--tasks", "generated:4:2", "--seed", str(seed)]
        assert _eval(*flags, "-o", log, "--num-envs", "2") == 0
    log = tmp_path / "random-0.jsonl"
    before = log.read_bytes()
    capsys.readouterr()
    base = {"--policy": "random", "--tasks": "generated:4:2"}
    others = [
        {"--seed": "1"},
        {"--policy": "replay"},
        {"--attempts": "2"},
        {"--strict-upstream": None},
        {"--tasks": "generated:5:2"},
    ]
    for other in others:
        flags = [x for k, v in {**base, **other}.items() for x in (k, v) if x is not None]
        assert _eval(*flags, "-o", str(log)) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "belongs to another run" in err and str(log) in err
    assert log.read_bytes() == before


def test_eval_refuses_the_task_file_as_output(tmp_path, capsys):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(c.model_dump_json() + "\n" for c in generate(3, 1)))
    before = tasks.read_bytes()
    (tmp_path / "sub").mkdir()
    for output in (tasks, tmp_path / "sub" / ".." / "tasks.jsonl"):
        assert _eval("--policy", "replay", "--tasks", str(tasks), "-o", str(output)) == 2
        assert "is the --tasks file" in capsys.readouterr().err
    assert tasks.read_bytes() == before and not (tmp_path / "tasks.jsonl.meta.json").exists()


def test_eval_creates_log_folders_and_fails_early_on_unwritable_logs(tmp_path, capsys):
    deep = tmp_path / "runs" / "x.jsonl"
    assert _eval("--policy", "replay", "--tasks", "generated:2:1", "-o", str(deep)) == 0
    assert len(load_records(deep)) == 2
    (tmp_path / "file").write_text("")
    bad = tmp_path / "file" / "x.jsonl"
    assert _eval("--policy", "replay", "--tasks", "generated:2:1", "-o", str(bad)) == 2
    err = capsys.readouterr().err
    assert err.startswith("crm-gym eval: ") and str(bad) in err and err.count("\n") == 1


def test_eval_records_a_conversation_whose_seed_cannot_load(tmp_path, capsys):
    tasks = tmp_path / "tasks.jsonl"
    good = list(generate(2, 1))
    bad = {
        **json.loads(good[0].model_dump_json()),
        "conversation_id": "BAD-1",
        "initial_entities": {"seed_data": {"Client": [1, 2]}},
    }
    tasks.write_text("".join(c.model_dump_json() + "\n" for c in good) + json.dumps(bad) + "\n")
    log = tmp_path / "log.jsonl"
    assert _eval("--policy", "replay", "--tasks", str(tasks), "-o", str(log)) == 0
    records = {r.conversation_id: r for r in load_records(log)}
    assert len(records) == 3
    assert records["BAD-1"].per_turn_results[0].verification == "pre_execution_error"
    assert "strict_success" in capsys.readouterr().out


def test_eval_unknown_policy_lists_the_valid_forms(tmp_path, capsys):
    log = tmp_path / "log.jsonl"
    for spec, hint in (
        ("replya", "did you mean 'replay'"),
        ("./runs/none", "no such directory"),
        (str(tmp_path), "without config.json"),
    ):
        assert _eval("--policy", spec, "--tasks", "generated:2:1", "-o", str(log)) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and hint in err and "package.module:ClassName" in err
    assert not log.exists()


POLICY_MODULE = """
from agents.baselines import ReplayPolicy


class Mine(ReplayPolicy):
    expose_reference = True


class NoAct:
    pass
"""


def test_eval_policy_of_a_users_class(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_policies.py").write_text(POLICY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    log = tmp_path / "mine.jsonl"
    argv = ["--tasks", "generated:3:1", "-o", str(log)]
    assert _eval("--policy", "my_policies:Mine", *argv) == 0
    records = load_records(log)
    assert {r.policy for r in records} == {"my_policies:Mine"}
    assert summarize(records)["metrics/turn_level_success"] == 1.0  # it replays: it is run
    for spec, message in (
        ("my_policies:Missing", "has no class 'Missing'"),
        ("my_policies:NoAct", "no act("),
        ("no_such_module_x:Cls", "cannot import"),
    ):
        assert _eval("--policy", spec, *argv[:2], "-o", str(tmp_path / "x.jsonl")) == 2
        assert message in capsys.readouterr().err


def test_eval_arm_keeps_one_arm():
    arm = arm_of(next(iter(generate(1, 7))))
    tasks = load_tasks("generated:30:7", arm)
    assert tasks and {arm_of(t) for t in tasks} == {arm}


def test_eval_rejects_bad_task_sources(tmp_path, capsys):
    for tasks in ("generated:x", str(tmp_path / "missing.jsonl")):
        assert (
            main(
                [
                    "eval",
                    "--policy",
                    "replay",
                    "--tasks",
                    tasks,
                    "-o",
                    str(tmp_path / "log.jsonl"),
                    "--no-progress",
                ]
            )
            == 2
        )
    assert "crm-gym eval:" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no conversation of arm"):
        load_tasks("generated:3:1", "nope-easy")


@pytest.mark.slow
def test_eval_hf_model_directory(tmp_path, monkeypatch):
    pytest.importorskip(
        "transformers", reason='needs the train extra: pip install "crm-gym[train]"'
    )
    from agents.tiny import build_tiny_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = build_tiny_model(tmp_path / "tiny", seed=0)
    log = tmp_path / "tiny.jsonl"
    argv = ["eval", "--policy", str(model), "--tasks", "generated:1:1", "--max-new-tokens", "4"]
    argv += ["--step", "5", "-o", str(log), "--no-progress"]
    assert main(argv) == 0
    records = load_records(log)
    assert len(records) == 1 and {r.step for r in records} == {5}
    assert all(
        r.tokens.completion_tokens > 0 and r.metadata["agent"]["provider"] == "local"
        for r in records
    )


@pytest.mark.slow
@pytest.mark.parametrize("lora_rank", [0, 4])  # 4: the base (initial/) with the run's adapter
def test_eval_of_a_training_run_gives_the_numbers_it_reported(
    lora_rank, tmp_path, monkeypatch, capsys
):
    pytest.importorskip(
        "transformers", reason='needs the train extra: pip install "crm-gym[train]"'
    )
    if lora_rank:
        pytest.importorskip("peft", reason='LoRA needs peft: pip install "crm-gym[train]"')
    from agents.train import Args, train
    from benchmarks.run_eval import REPORTED, REPORTED_GREEDY, TrainedRun, run_numbers

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    run_dir = tmp_path / "run"
    config = dict(steps=2, eval_every=2, save_every=2, num_threads=1, max_new_tokens=8)
    config |= dict(max_env_steps=1, prompts_per_step=2, group_size=4, num_conversations=120)
    config |= dict(num_eval_tasks=3, eval_samples=4, warm_start_steps=20, lr=1e-2, progress=False)
    train(Args(output_dir=str(run_dir), lora_rank=lora_rank, **config))
    run = TrainedRun.read(run_dir)
    reported = run.reported()
    assert run.step == 2 and reported is not None
    from agents.policy_spec import lora_run, model_dir

    resolved = run_dir.resolve()  # the adapter on the base, not the merged weights, is evaluated
    assert lora_run(resolved, model_dir(resolved)) == bool(lora_rank)
    log = tmp_path / "run.jsonl"
    for num_envs in ("5", "2"):  # batching changes nothing; the second finds all done
        assert _eval("--policy", str(run_dir), "-o", str(log), "--num-envs", num_envs) == 0
    out = capsys.readouterr().out
    records = load_records(log)
    assert len(records) == 3 * 4 and {r.step for r in records} == {2}
    assert {r.policy for r in records} == {"run"} and {r.seed for r in records} == {0}
    ours = run_numbers(records, [c.conversation_id for c in run.tasks()])
    assert ours == reported  # the same floats, not merely close
    # an 8-token model makes no correct call: since reward v1 that earns at most 0 (no free state
    # credit; malformed actions cost), so the equality above compares small numbers; the keys
    # still have to be the reported ones
    assert reported["eval/reward_mean"] <= 0.0 and set(ours) == set(REPORTED)
    assert f"(run reported at step 2: {reported['eval/reward_mean']:.4f})" in out
    if lora_rank:
        return
    # greedy, one attempt: the run's greedy numbers; other tasks: nothing to compare with
    greedy = tmp_path / "greedy.jsonl"
    assert (
        _eval("--policy", str(run_dir), "-o", str(greedy), "--temperature", "0", "--attempts", "1")
        == 0
    )
    out = capsys.readouterr().out
    greedy_reported = run.reported(REPORTED_GREEDY)
    assert run_numbers(load_records(greedy), [c.conversation_id for c in run.tasks()]) == dict(
        zip(REPORTED, greedy_reported.values(), strict=True)
    )
    assert f"(run reported at step 2: {greedy_reported['eval/greedy_success_rate']:.4f})" in out
    other = tmp_path / "other.jsonl"
    assert _eval("--policy", str(run_dir), "-o", str(other), "--tasks", "generated:2") == 0
    assert "not the run's evaluation" in capsys.readouterr().out


def test_policy_forms_are_told_apart_before_anything_loads(tmp_path):
    from agents.policy_spec import parse_policy

    pytest.importorskip("litellm", reason='needs the api extra: pip install "crm-gym[api]"')
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "args.json").write_text("{}")
    (tmp_path / "run" / "checkpoint" / "model").mkdir(parents=True)
    (tmp_path / "run" / "checkpoint" / "model" / "config.json").write_text("{}")
    (tmp_path / "run" / "initial").mkdir()
    (tmp_path / "run" / "initial" / "config.json").write_text("{}")
    kinds = {
        "replay": "replay",
        "random": "random",
        "vllm:Qwen/Qwen3-4B": "vllm",
        str(tmp_path / "model"): "hf",
        str(tmp_path / "run"): "run",
        str(tmp_path / "run" / "checkpoint" / "model"): "run",  # the run's trained model
        str(tmp_path / "run" / "initial"): "hf",  # the weights before GRPO: a plain model
        "my_pkg.policies:MyPolicy": "class",
        "gpt-4.1": "api",
        "openai/gpt-4.1": "api",
        "hosted_vllm/my-model": "api",
    }
    assert {spec: parse_policy(spec).kind for spec in kinds} == kinds
    for typo in ("replya", "no_provider/model", "gpt-4.1-typo-xyz"):
        with pytest.raises(PolicySpecError, match="valid forms"):
            parse_policy(typo)


def test_eval_strict_upstream_is_part_of_the_run(tmp_path):
    log = tmp_path / "strict.jsonl"
    argv = ["--policy", "replay", "--tasks", "generated:3:1", "-o", str(log)]
    assert _eval(*argv, "--strict-upstream") == 0
    assert json.loads((tmp_path / "strict.jsonl.meta.json").read_text())["env"]["strict_upstream"]
    assert len(load_records(log)) == 3
    assert _eval(*argv) == 2  # the same log without it: another run


def test_a_run_without_a_checkpoint_evaluates_its_initial_model(tmp_path):
    from agents.policy_spec import model_dir

    with pytest.raises(PolicySpecError, match="has it started training yet"):
        model_dir(tmp_path)
    for folder in ("initial", "checkpoint/model", "final"):  # each later one takes precedence
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "config.json").write_text("{}")
        assert model_dir(tmp_path) == tmp_path / folder
