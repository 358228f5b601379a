"""The policy protocol every backend implements: batched text in, sampled text (and tokens) out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable


@dataclass(frozen=True)
class SamplingParams:
    """How to sample completions (the common subset of HF ``generate``, vLLM and litellm)."""

    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    seed: int | None = None
    stop: tuple[str, ...] = ()
    # the first observation's row in a batch split across processes: row seeds count from it,
    # so a data-parallel shard samples what its rows sample in the whole batch
    first_row: int = 0
    # one seed per observation, overriding ``seed``: a row's draws then depend on its own seed
    # alone, not on its place in the batch (the evaluation harness seeds each episode's actions)
    row_seeds: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.first_row < 0:
            raise ValueError(f"first_row must be >= 0, got {self.first_row}")
        if self.row_seeds is not None and any(seed < 0 for seed in self.row_seeds):
            raise ValueError(f"row_seeds must be >= 0, got {self.row_seeds}")


def row_seed(sampling: SamplingParams, row: int, sample: int = 0) -> list[int] | None:
    """The seed sequence of sample ``sample`` of batch row ``row`` (None: fresh entropy).

    ``[row_seeds[row], sample]`` when the caller seeded each row, else
    ``[seed, first_row + row, sample]``.
    """
    if sampling.row_seeds is not None:
        return [sampling.row_seeds[row], sample]
    if sampling.seed is None:
        return None
    return [sampling.seed, sampling.first_row + row, sample]


@dataclass(frozen=True)
class Sample:
    """One completion: its text and, when the backend has them, tokens and their logprobs.

    ``logprobs[t]`` is the sampling policy's log-probability of ``completion_ids[t]`` given the
    prompt and the earlier completion tokens (after temperature scaling, as the trainer computes
    them); ``None`` for API backends that cannot give them.
    """

    text: str
    prompt_ids: tuple[int, ...] = ()
    completion_ids: tuple[int, ...] = ()
    logprobs: tuple[float, ...] | None = None
    finish_reason: str = "stop"
    usage: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    """What a policy sees for one env: the new observation text and the structured info.

    ``prompt_ids``, when set, is the whole prompt as token ids, kept by the caller from earlier
    generations (``collect_rollouts`` does this for a ``TokenPolicy`` in multi-turn episodes): a
    token-level backend then generates from exactly these ids instead of rendering
    ``info["messages"]``, so earlier turns are never re-tokenised. Text backends ignore it.
    """

    text: str
    info: dict[str, Any] = field(default_factory=dict)
    prompt_ids: tuple[int, ...] | None = None


@runtime_checkable
class Policy(Protocol):
    """Turns a batch of observations into ``n`` sampled actions each.

    Batched by construction: one call serves a whole vector env, and ``n`` is the GRPO group.
    The result has one list of ``n`` samples per observation, in order.
    """

    def act(
        self,
        observations: Sequence[Observation],
        n: int = 1,
        sampling: SamplingParams | None = None,
    ) -> list[list[Sample]]:
        """Sample ``n`` completions for each observation."""
        ...


@runtime_checkable
class TokenPolicy(Policy, Protocol):
    """A policy that works on token ids (a local model): it honours ``Observation.prompt_ids``.

    ``encode_continuation`` gives the token ids that follow one of its completions once the env
    has answered: the end of the assistant message (unless ``completion_ids`` already closed it),
    the env's new messages, and the opening of the next assistant message. Only these new
    segments are tokenised, never the transcript before them.
    """

    def encode_continuation(
        self, completion_ids: Sequence[int], messages: Sequence[dict[str, Any]]
    ) -> list[int]:
        """Token ids of the env's ``messages`` (transcript entries) after a completion."""
        ...


class ScriptedPolicy:
    """A deterministic policy: ``action`` decides each observation's action; ``act`` repeats it.

    The base of the scripted baselines (replay, a log's recorded calls, the reward audit's
    policies): they differ only in ``action``.
    """

    def act(
        self,
        observations: Sequence[Observation],
        n: int = 1,
        sampling: SamplingParams | None = None,
    ) -> list[list[Sample]]:
        """The scripted action for each observation, ``n`` times."""
        return [[Sample(self.action(observation))] * n for observation in observations]

    def action(self, observation: Observation) -> str:
        """The action due in this observation's episode."""
        raise NotImplementedError
