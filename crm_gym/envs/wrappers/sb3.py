"""``CandidateActions``: a numeric view of a CRM env for Stable-Baselines3 and other MLP policies.

SB3 supports Box, Discrete, MultiDiscrete, MultiBinary and flat Dict spaces only (a text space
raises ``NotImplementedError``), so this wrapper maps text to numbers both ways. It needs neither
SB3 nor torch itself; training with it does (``pip install "crm-gym[sb3]"``).
"""

from __future__ import annotations

import re
import zlib
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium.spaces import Box, Discrete

from crm_gym.crm.tool_catalogue import TOOL_SPECS
from crm_gym.envs.wrappers.candidates import KINDS, UUID_PATTERN, Context, candidates, read_context

INVALID_ACTION = '{"name": "", "arguments": {}}'
"""Sent for an invalid candidate: not a readable tool call (the env counts a malformed action)."""

LAST_CALL = ("none", "ok", "error", "malformed")
_WORDS = re.compile(r"[a-z]{2,}")


class CandidateActions(gym.Wrapper[np.ndarray, np.int64, str, str]):
    """A ``Discrete`` choice among candidate tool calls and a ``Box`` of features, over ``CrmEnv``.

    Actions: ``Discrete(K)``, ``K = 1 + len(tools) * per_tool``. Candidate 0 is the final answer
    (it repeats the last tool result); then each tool has ``per_tool`` fixed slots, filled from
    the ids and enum values of the request and of the tool results so far
    (``crm_gym.envs.wrappers.candidates``). A slot that cannot be filled is invalid: choosing it
    sends an unreadable action, which the env answers with an error message, a step and its
    malformed-action penalty. ``info["candidates"]`` holds the texts (``None`` when invalid) and
    ``info["action_mask"]``/``action_masks()`` the valid ones (sb3-contrib's ``MaskablePPO``).

    Observations: ``Box(0, 1, (F,), float32)``, the concatenation of: a hashed bag of words of the
    current request (``num_hash_features``, CRC32 of lowercased words, ids removed), which entity
    kinds have ids in sight (8), which tools have been called (``len(tools)``), the last action's
    outcome (none/ok/error/malformed), steps taken over ``max_steps``, and the validity of each
    candidate (``K``). Rewards, terminations and truncations are the inner env's.

    Example:
        >>> import gymnasium as gym
        >>> from crm_gym.crm.tools import SEARCH_TOOLS
        >>> from crm_gym.data.examples import builtin_path
        >>> env = CandidateActions(gym.make("ArcCrm-v1", tasks=str(builtin_path())),
        ...                        tools=list(SEARCH_TOOLS))
        >>> observation, info = env.reset(seed=0)
        >>> env.action_space, observation.shape, len(info["candidates"])
        (Discrete(15), (163,), 15)
    """

    def __init__(
        self,
        env: gym.Env[str, str],
        tools: Sequence[str] | None = None,
        *,
        per_tool: int = 2,
        num_hash_features: int = 128,
    ):
        super().__init__(env)
        self.tools = tuple(tools) if tools is not None else tuple(TOOL_SPECS)
        unknown = [name for name in self.tools if name not in TOOL_SPECS]
        if unknown or not self.tools:
            raise ValueError(
                f"tools must be non-empty tool names of TOOL_SPECS, got unknown {unknown}"
            )
        if per_tool < 1 or num_hash_features < 1:
            raise ValueError(
                f"per_tool and num_hash_features must be >= 1, got {per_tool}, {num_hash_features}"
            )
        self.per_tool = per_tool
        self.num_hash_features = num_hash_features
        self.num_candidates = 1 + len(self.tools) * per_tool
        size = (
            num_hash_features
            + len(KINDS)
            + len(self.tools)
            + len(LAST_CALL)
            + 1
            + self.num_candidates
        )
        self.action_space = Discrete(self.num_candidates)
        self.observation_space = Box(0.0, 1.0, (size,), np.float32)
        self._candidates: list[str | None] = []
        self._called: set[str] = set()
        self._last = "none"
        self._steps = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        _, info = self.env.reset(seed=seed, options=options)
        self._called, self._last, self._steps = set(), "none", 0
        return self._observe(info), self._with_candidates(info)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Send candidate ``action`` (its text, or an unreadable action if it is invalid)."""
        index = int(action)
        if not 0 <= index < self.num_candidates:
            raise ValueError(f"action must be in [0, {self.num_candidates}), got {action!r}")
        text = self._candidates[index] or INVALID_ACTION
        _, reward, terminated, truncated, info = self.env.step(text)
        self._steps += 1
        self._record(index, info.get("tool_result"))
        return (
            self._observe(info),
            float(reward),
            bool(terminated),
            bool(truncated),
            self._with_candidates(info),
        )

    def action_masks(self) -> np.ndarray:
        """Which candidates are valid now (the hook sb3-contrib's ``MaskablePPO`` calls)."""
        return np.array([text is not None for text in self._candidates], dtype=bool)

    def _record(self, index: int, result: dict[str, Any] | None) -> None:
        if result is not None:
            self._called.add(result["name"])
            self._last = "ok" if result["ok"] else "error"
        else:
            self._last = "malformed" if self._candidates[index] is None else "none"

    def _observe(self, info: dict[str, Any]) -> np.ndarray:
        context = read_context(info.get("messages", []))
        self._candidates = candidates(context, self.tools, self.per_tool)
        max_steps = getattr(self.env.unwrapped, "max_steps", 1)
        parts = [
            hashed_words(context.request, self.num_hash_features),
            kinds_in_sight(context),
            np.array([name in self._called for name in self.tools], dtype=np.float32),
            np.array([self._last == outcome for outcome in LAST_CALL], dtype=np.float32),
            np.array([min(1.0, self._steps / max_steps)], dtype=np.float32),
            self.action_masks().astype(np.float32),
        ]
        return np.concatenate(parts)

    def _with_candidates(self, info: dict[str, Any]) -> dict[str, Any]:
        return {**info, "candidates": list(self._candidates), "action_mask": self.action_masks()}


def hashed_words(text: str, size: int) -> np.ndarray:
    """A binary bag of words: CRC32 of each lowercased word (ids removed), modulo ``size``.

    Example:
        >>> hashed_words("Show quote", 8).sum()
        np.float32(2.0)
    """
    features = np.zeros(size, dtype=np.float32)
    for word in _WORDS.findall(re.sub(UUID_PATTERN, " ", text).lower()):
        features[zlib.crc32(word.encode()) % size] = 1.0
    return features


def kinds_in_sight(context: Context) -> np.ndarray:
    """Which entity kinds have at least one id in the request or the tool results."""
    return np.array([bool(context.ids.get(kind)) for kind in KINDS], dtype=np.float32)
