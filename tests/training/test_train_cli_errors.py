"""``crm-gym train`` files in, files out: bad values, resumes of another run, corrupt files, kills.

Each failure is one line on stderr naming the argument or file, with exit 2 (usage) or 1 (a
corrupt file), and the run directory is left as it was.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import agents.checkpoint
import agents.train
from agents.run_dir import MetricsLog, check_resume, metrics_up_to, write_args
from agents.train import Args, train
from crm_gym.errors import CheckpointError, ConfigError, RunDirError
from scripts.cli import main
from tests.training.test_train import TINY

ROOT = Path(__file__).parents[2]
SMALL = (
    "--set warm_start_steps=0 --set num_conversations=120 --set num_eval_tasks=3 "
    "--set prompts_per_step=2 --set group_size=2 --set max_new_tokens=4 --set progress=false "
    "--set eval_every=2 --set save_every=1"
).split()


def _train(out: Path, *extra: str) -> int:
    return main(["train", "--preset", "cpu-tiny", "--output", str(out), *SMALL, *extra])


def _error_line(capsys) -> str:
    """The one error line (transformers' "Loading weights" bars may come before it)."""
    err = capsys.readouterr().err
    ours = [line for line in err.splitlines() if line.startswith("crm-gym train: ")]
    assert len(ours) == 1 and "Traceback" not in err, err[-2000:]
    return ours[0]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A 2-step ``cpu-tiny`` run made through the CLI (copied by each test that changes it)."""
    out = tmp_path_factory.mktemp("runs") / "finished"
    assert _train(out, "--steps", "2") == 0
    return out


@pytest.fixture
def run_dir(finished_run, tmp_path) -> Path:
    return Path(shutil.copytree(finished_run, tmp_path / "run"))


def _steps(out: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--steps", "-1"], "--steps -1: steps must be >= 0, got -1"),
        (["--set", "lr=abc"], "--set lr=abc: lr must be a number, got 'abc'"),
        (["--set", "group_size=0"], "--set group_size=0: group_size must be >= 2, got 0"),
        (["--set", "lr"], "--set lr: expected FIELD=VALUE"),
        (["--set", "progress=1"], "--set progress=1: progress must be true or false, got 1"),
    ],
)
def test_bad_values_fail_before_anything_is_made(argv, named, tmp_path, capsys) -> None:
    assert _train(tmp_path / "run", *argv) == 2
    assert named in _error_line(capsys)
    assert not (tmp_path / "run").exists()  # failed at parse time: no folder, no model


def test_a_bad_config_file_is_named(tmp_path, capsys) -> None:
    config = tmp_path / "run.toml"
    config.write_text('steps = 5\nlr = "fast"\n')
    assert main(["train", "--config", str(config), "--output", str(tmp_path / "o")]) == 2
    assert f"{config}: lr must be a number, got 'fast'" in _error_line(capsys)
    config.write_text("steps = [\n")
    assert main(["train", "--config", str(config)]) == 2
    assert str(config) in _error_line(capsys)


def test_args_checks_types_and_ranges_for_library_callers() -> None:
    with pytest.raises(ConfigError, match="group_size must be >= 2, got 1"):
        Args(group_size=1)
    with pytest.raises(ConfigError, match="lr must be finite, got nan"):
        Args(lr=float("nan"))
    with pytest.raises(ConfigError, match="top_p must be in"):
        Args(top_p=1.5)
    assert Args(lr=1).lr == 1.0 and isinstance(Args(lr=1).lr, float)
    with pytest.raises(ConfigError, match="warm_start_steps=5 needs backend='hf'"):
        Args(backend="vllm", warm_start_steps=5)


def test_without_torch_the_cli_names_the_extra(tmp_path) -> None:
    argv = ["train", "--preset", "cpu-tiny", "--output", str(tmp_path)]
    code = (
        "import sys; sys.modules['torch'] = None\n"  # `import torch` raises ImportError
        f"from scripts.cli import main; sys.exit(main({argv!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.strip() == (
        'crm-gym train: training needs torch: pip install "crm-gym[train]"'
    )


# --------------------------------------------------------------------------- resume identity


def test_resuming_with_another_configuration_is_refused(run_dir, capsys) -> None:
    stored = (run_dir / "args.json").read_bytes()
    argv = ["--steps", "3", "--seed", "1", "--set", "lr=1e-3", "--set", "num_eval_tasks=4"]
    assert _train(run_dir, *argv) == 2
    line = _error_line(capsys)
    assert f"run dir {run_dir} was made with seed=0, num_eval_tasks=3, lr=0.0001; " in line
    assert "this call has seed=1, num_eval_tasks=4, lr=0.001 (use a new --output dir" in line
    assert (run_dir / "args.json").read_bytes() == stored  # not rewritten
    assert _train(run_dir, "--steps", "1") == 2  # fewer steps than the checkpoint's
    assert "has a checkpoint at step 2; this call has steps=1" in _error_line(capsys)
    assert _steps(run_dir) == [1, 2]


def test_args_json_alone_binds_nothing(tmp_path) -> None:
    """A call that failed before making anything (say, a misspelt model) may be corrected."""
    write_args(tmp_path, Args(output_dir=str(tmp_path), model="Qwen/Qwen3-4B-typo"))
    check_resume(tmp_path, Args(output_dir=str(tmp_path)))
    (tmp_path / "tiny-model").mkdir()  # built from the stored seeds: now the run is that one
    with pytest.raises(RunDirError, match="model='Qwen/Qwen3-4B-typo'; this call has model='tiny'"):
        check_resume(tmp_path, Args(output_dir=str(tmp_path)))


def test_a_resume_may_extend_the_run(run_dir, capsys) -> None:
    assert _train(run_dir, "--steps", "3") == 0
    assert _steps(run_dir) == [1, 2, 3]
    assert json.loads((run_dir / "args.json").read_text())["steps"] == 3


def test_no_resume_starts_over_with_the_new_configuration(run_dir) -> None:
    assert _train(run_dir, "--steps", "1", "--seed", "1", "--no-resume") == 0
    assert _steps(run_dir) == [1]
    assert json.loads((run_dir / "args.json").read_text())["seed"] == 1


# --------------------------------------------------------------------------- corrupt files


def _cut(file: Path) -> None:
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])


def _cut_metrics_line(run_dir: Path) -> None:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines(keepends=True)
    lines[0] = lines[0][:20] + "\n"
    (run_dir / "metrics.jsonl").write_text("".join(lines))


CORRUPTIONS = {
    "metrics.jsonl line 1: not a metrics row": _cut_metrics_line,
    "checkpoint/state.pt: 0 bytes": lambda d: (d / "checkpoint" / "state.pt").write_bytes(b""),
    "checkpoint/model/model.safetensors: ": lambda d: _cut(
        d / "checkpoint" / "model" / "model.safetensors"
    ),
    "tiny-model/model.safetensors: truncated or corrupt": lambda d: _cut(
        d / "tiny-model" / "model.safetensors"
    ),
    "args.json: not JSON": lambda d: _cut(d / "args.json"),
}


@pytest.mark.parametrize("named", list(CORRUPTIONS))
def test_a_corrupt_file_is_named_and_nothing_is_lost(named, run_dir, capsys) -> None:
    CORRUPTIONS[named](run_dir)
    before = (run_dir / "metrics.jsonl").read_bytes()
    assert _train(run_dir, "--steps", "3") == 1
    assert named in _error_line(capsys)
    assert (run_dir / "metrics.jsonl").read_bytes() == before


def test_metrics_keep_the_rows_up_to_the_checkpoint(tmp_path) -> None:
    path = tmp_path / "metrics.jsonl"
    rows = "".join(json.dumps({"step": s}) + "\n" for s in (1, 2, 3))
    path.write_text(rows + '{"step": 4, "loss')  # step 4's row, cut by a kill
    MetricsLog(tmp_path, start_step=2, tensorboard=False).close()
    assert _steps(tmp_path) == [1, 2]
    path.write_text(rows + '{"step": 4, "loss')
    with pytest.raises(CheckpointError, match=r"rows stop at step 3 \(line 4 is cut short\)"):
        metrics_up_to(path, 4)  # a checkpoint at step 4 and no complete row 4: a hole
    assert path.read_text().startswith(rows)


# --------------------------------------------------------------------------- kills


class Killed(BaseException):
    """A kill: nothing after it runs."""


def test_a_kill_inside_the_checkpoint_swap_resumes_at_its_step(tmp_path, monkeypatch) -> None:
    """Killed between moving the old checkpoint away and renaming the new one into place."""
    args = Args(output_dir=str(tmp_path), steps=4, eval_every=2, save_every=2, **TINY)
    renames, rename = [], agents.checkpoint._rename

    def killed_on_the_third(source: Path, target: Path) -> None:
        renames.append(target.name)  # step 2: .new -> checkpoint; step 4: checkpoint -> .old,
        if len(renames) == 3:  # then .new -> checkpoint, which the kill stops
            raise Killed
        rename(source, target)

    monkeypatch.setattr(agents.checkpoint, "_rename", killed_on_the_third)
    with pytest.raises(Killed):
        train(args)
    assert not (tmp_path / "checkpoint").exists() and _steps(tmp_path) == [1, 2, 3, 4]
    monkeypatch.setattr(agents.checkpoint, "_rename", rename)
    ran = []
    rollouts = agents.train.collect_rollouts

    def counted(*a, **k):
        ran.append(1)
        return rollouts(*a, **k)

    monkeypatch.setattr(agents.train, "collect_rollouts", counted)
    summary = train(Args(**(vars(args) | {"steps": 6})))
    assert len(ran) == 2  # steps 5 and 6: resumed at step 4, not 0
    assert _steps(tmp_path) == [1, 2, 3, 4, 5, 6] and summary["steps"] == 6
    with pytest.raises(RunDirError, match="seed=0.*seed=1"):
        train(Args(**(vars(args) | {"steps": 7, "seed": 1})))


def test_memory_options_are_checked_for_library_callers() -> None:
    args = Args(lora_target_modules=["q_proj", "up_proj"])  # a TOML or JSON list
    assert args.lora_target_modules == ("q_proj", "up_proj")
    for bad, message in [
        ({"lora_rank": -1}, "lora_rank must be >= 0, got -1"),
        ({"lora_alpha": 0}, "lora_alpha must be > 0, got 0.0"),
        ({"lora_dropout": 1.0}, r"lora_dropout must be in \[0, 1\), got 1.0"),
        ({"lora_target_modules": "q_proj"}, "lora_target_modules must be a list of strings"),
        ({"lora_rank": 8, "lora_target_modules": []}, r"lora_rank=8 needs lora_target_modules"),
        ({"optimizer": "sgd"}, "optimizer must be one of 'adamw', 'adamw_8bit', got 'sgd'"),
        ({"gradient_checkpointing": 1}, "gradient_checkpointing must be true or false, got 1"),
        ({"fsdp": True}, "fsdp=true needs backend='vllm', got backend='hf'"),
    ]:
        with pytest.raises(ConfigError, match=message):
            Args(**bad)


@pytest.mark.parametrize(
    ("option", "named"),
    [
        ('optimizer="adamw_8bit"', "optimizer='adamw_8bit' needs a CUDA GPU"),
        ("fsdp=true", "fsdp=true needs CUDA GPUs"),
    ],
)
def test_gpu_only_options_say_so_on_the_cpu(option, named, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert _train(tmp_path / "run", "--set", option, "--set", 'backend="vllm"') == 2
    assert named in _error_line(capsys)
    assert not (tmp_path / "run").exists()  # refused before the run directory is made


def test_lora_settings_round_trip_through_args_json(tmp_path) -> None:
    args = Args(output_dir=str(tmp_path), lora_rank=4, lora_target_modules=("q_proj",))
    write_args(tmp_path, args)
    (tmp_path / "initial").mkdir()  # a run was made: the resume check compares
    check_resume(tmp_path, args)  # the stored JSON list is the same tuple
    with pytest.raises(RunDirError, match=r"lora_target_modules=\['q_proj'\]"):
        check_resume(tmp_path, Args(output_dir=str(tmp_path), lora_rank=4))


def test_the_8bit_optimizer_names_its_extra_when_bitsandbytes_is_missing(monkeypatch) -> None:
    import torch

    from agents.train_scale import make_optimizer

    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # `import bitsandbytes` fails
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ImportError, match=r'needs bitsandbytes: pip install "crm-gym\[bnb\]"'):
        make_optimizer(Args(optimizer="adamw_8bit"), model)
    model.bias.requires_grad_(False)  # frozen (LoRA's base): not the optimizer's
    adamw = make_optimizer(Args(lr=0.5), model)
    assert isinstance(adamw, torch.optim.AdamW) and adamw.defaults["lr"] == 0.5
    assert adamw.param_groups[0]["params"] == [model.weight]
