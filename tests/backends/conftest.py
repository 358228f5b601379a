"""Fixtures of the backend tests: observations, the public data, the tiny model and its policy."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium
import pytest

import crm_gym  # noqa: F401  (registers the envs)
from agents.policy import Observation
from crm_gym.actions import format_tool_call
from crm_gym.data.conversation import Conversation
from crm_gym.data.loading import load_conversations

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any connection beyond the loopback interface: these tests must run offline."""
    connect = socket.socket.connect

    def loopback_only(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1"):
            raise OSError(f"network access in a test: {address!r}")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)
    yield


@pytest.fixture(scope="session")
def observations() -> list[Observation]:
    """Three observations: two fresh episodes and one just after a tool call."""
    env = gymnasium.make("ArcCrm-v1")
    result = [Observation(*env.reset(seed=seed)) for seed in (0, 1)]
    env.reset(seed=2)
    text, _, _, _, info = env.step(format_tool_call("list_notes", {}))
    result.append(Observation(text, info))
    env.close()
    return result


def public_data_path() -> Path:
    """``$ARC_CRM_DATA``, else the shared copy next to the repository."""
    configured = os.environ.get("ARC_CRM_DATA")
    return (
        Path(configured) if configured else REPO.parent / "shared" / "arc" / "evaluation_400.jsonl"
    )


@pytest.fixture(scope="session")
def public() -> list[Conversation]:
    """The 400 public conversations; skips the test, naming ``ARC_CRM_DATA``, without them."""
    path = public_data_path()
    if not path.is_file():
        pytest.skip(
            f"public Arc data not found at {path}; set ARC_CRM_DATA to evaluation_400.jsonl"
        )
    return load_conversations(path)


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model built offline once per session."""
    pytest.importorskip(
        "transformers", reason='needs the train extra: pip install "crm-gym[train]"'
    )
    from agents.tiny import build_tiny_model

    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        return build_tiny_model(tmp_path_factory.mktemp("tiny"), seed=0)
    finally:
        if previous is None:
            del os.environ["HF_HUB_OFFLINE"]
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


@pytest.fixture(scope="session")
def tokenizer(tiny_path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_path)


@pytest.fixture(scope="session")
def policy(tiny_path: Path):
    """``HFPolicy`` over the tiny model on the CPU, compact prompts."""
    from agents.hf import HFPolicy

    return HFPolicy(tiny_path, device="cpu", prompt_style="compact")
