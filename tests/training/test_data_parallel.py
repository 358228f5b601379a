"""Data parallel GRPO: two CPU processes (``accelerate launch``) train as one process does.

Each process rolls out one of the two prompt slots; gathered rewards, the curriculum update and
the rescaled loss must give the one-process metrics and weights (agents/train_parallel.py).
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from agents.train_parallel import micro_batches, shard_rows
from tests.training.data_parallel_run import CONFIG

ROOT = Path(__file__).parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(output_dir: Path, num_processes: int) -> subprocess.CompletedProcess:
    # --multi_gpu starts torchrun's processes; with CUDA hidden, Accelerator(cpu=True) joins
    # them over gloo (``accelerate launch --cpu`` would start a single process here). One
    # process runs plainly, CUDA hidden too, so that both sides compute on the CPU.
    command = [sys.executable, "-m", "tests.training.data_parallel_run", str(output_dir)]
    if num_processes > 1:
        launch = (
            f"-m accelerate.commands.launch --multi_gpu --num_processes {num_processes} "
            "--num_machines 1 --mixed_precision no --dynamo_backend no "
            f"--main_process_port {_free_port()} -m"
        )
        command[1:2] = launch.split()
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": path}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)


def _metrics(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if not k.startswith("perf/")} for row in rows]


@pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="torch.distributed with the gloo backend is needed to run two CPU processes",
)
def test_two_processes_train_as_one(tmp_path: Path) -> None:
    for name, processes in (("one", 1), ("two", 2)):
        out = _launch(tmp_path / name, processes)
        assert out.returncode == 0, out.stderr[-3000:]
    one, two = _metrics(tmp_path / "one"), _metrics(tmp_path / "two")
    assert [row["step"] for row in two] == [1, 2]
    assert any(row["loss/grad_norm"] > 0 for row in one)  # the comparison is not vacuous
    for a, b in zip(one, two, strict=True):
        assert a.keys() == b.keys()
        for key in a:  # loss/*, rollout/*, curriculum/*, eval/*
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), (a["step"], key)
    before = load_file(tmp_path / "one" / "initial" / "model.safetensors")
    w1 = load_file(tmp_path / "one" / "checkpoint" / "model" / "model.safetensors")
    w2 = load_file(tmp_path / "two" / "checkpoint" / "model" / "model.safetensors")
    # Adam divides by sqrt(v): float noise on a near-zero gradient moves a weight by up to lr,
    # so weights are compared to a tenth of lr, against updates of about lr per step
    lr = CONFIG["lr"]
    assert max(float((w1[k] - before[k]).abs().max()) for k in w1) > lr
    for name in w1:
        torch.testing.assert_close(w2[name], w1[name], rtol=1e-4, atol=lr / 10)


def test_prompts_must_split_evenly_over_processes() -> None:
    accelerator = SimpleNamespace(num_processes=3, process_index=0)
    with pytest.raises(ValueError, match="prompts_per_step=4 must be divisible"):
        shard_rows(4, 8, accelerator)
    accelerator = SimpleNamespace(num_processes=2, process_index=1)
    assert shard_rows(4, 8, accelerator) == slice(16, 32)


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo", "dapo"])
def test_micro_batch_shares_add_up_to_whole_micro_batches(loss_type: str) -> None:
    # 8 rows in micro-batches of 3 over 2 processes: [0, 3) [3, 6) [6, 8), cut at row 4
    tokens = [1, 2, 3, 4, 5, 6, 7, 8]
    parts = [micro_batches(rows, 3, tokens, loss_type, 2) for rows in (slice(0, 4), slice(4, 8))]
    assert [[p.index for p in ps] for ps in parts] == [[0, 1], [1, 2]]
    assert parts[0][1].rows == slice(3, 4) and parts[1][0].rows == slice(0, 2)
    shares = {0: 0.0, 1: 0.0, 2: 0.0}
    for part in parts[0] + parts[1]:
        shares[part.index] += part.share
        assert part.scale == 2 * part.share  # DDP averages over 2 processes
    expected = {"dapo": {0: 1, 1: 2, 2: 1}}.get(loss_type, {0: 1, 1: 1, 2: 1})
    assert shares == pytest.approx(expected)
    if loss_type == "bnpo":  # row 3 (4 tokens) of micro-batch [3, 6) (15 tokens)
        assert parts[0][1].share == pytest.approx(4 / 15)
    if loss_type in ("grpo", "dr_grpo"):
        assert parts[0][1].share == pytest.approx(1 / 3)


def test_one_process_keeps_the_plain_micro_batches() -> None:
    parts = micro_batches(slice(0, 8), 3, [1] * 8, "bnpo", 1)
    assert [(p.rows, p.share, p.scale) for p in parts] == [
        (slice(0, 3), 1.0, 1.0),
        (slice(3, 6), 1.0, 1.0),
        (slice(6, 8), 1.0, 1.0),
    ]
