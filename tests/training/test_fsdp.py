"""FSDP2 on two CPU processes (torch's ``fully_shard`` over gloo): the trainer's gather and
reload of sharded states give the one-process LoRA step, and a resume steps as the original.

accelerate (1.16) builds FSDP only over GPU processes (``DistributedType.MULTI_CPU`` keeps
DDP), so ``crm-gym train`` with ``fsdp=true`` itself is not run here (docs/training.md).
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from agents.lora import merge_lora
from tests.training.fsdp_run import LR, batch, lora_model

ROOT = Path(__file__).parents[2]
pytest.importorskip("peft", reason='LoRA needs peft: pip install "crm-gym[train]"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="torch.distributed with the gloo backend is needed to run two CPU processes",
)
def test_sharded_states_are_the_one_process_states(tmp_path: Path) -> None:
    port = str(_free_port())
    launch = ["-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port]
    command = [sys.executable, *launch, "-m", "tests.training.fsdp_run", str(tmp_path)]
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": path}
    out = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    # the same step on one process, unsharded
    model = lora_model(tmp_path / "tiny")
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR)
    losses = []
    for _ in range(2):
        ids = batch()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
        if len(losses) == 1:
            after_one = {k: v.detach().clone() for k, v in model.state_dict().items()}
    adapter = load_file(tmp_path / "checkpoint" / "adapter" / "adapter_model.safetensors")
    assert adapter and all("lora_" in name for name in adapter)
    for name, tensor in adapter.items():
        ours = after_one[name.replace(".weight", ".default.weight")]
        torch.testing.assert_close(tensor, ours, rtol=1e-5, atol=1e-6)
    merged = load_file(tmp_path / "checkpoint" / "model" / "model.safetensors")
    expected = merge_lora(after_one, 8.0 / 4)  # alpha / rank
    assert merged.keys() == expected.keys()  # the base's names (the gathered head apart)
    for name, tensor in expected.items():
        torch.testing.assert_close(merged[name], tensor, rtol=1e-5, atol=1e-6)
    for rank in (0, 1):  # the original and the resumed sharded model take the same second step
        original, resumed = map(float, (tmp_path / f"losses-{rank}.txt").read_text().split())
        assert resumed == pytest.approx(original, rel=1e-6)
        assert original == pytest.approx(losses[1], rel=1e-5)
