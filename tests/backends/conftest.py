"""Fixtures of the backend tests: env observations and the tiny model's tokenizer and weights."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium
import pytest

import crm_gym  # noqa: F401  (registers the envs)
from agents.policy import Observation
from crm_gym.actions import format_tool_call


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


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Qwen3-style model of ``agents.tiny``, written once per session."""
    pytest.importorskip("transformers", reason='needs the training extra: "crm-gym[train]"')
    from agents.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny"), seed=0)


@pytest.fixture(scope="session")
def tokenizer(tiny_path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_path)
