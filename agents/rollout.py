"""Rollouts: N envs stepped in lockstep, one batched policy call per step, a trajectory per episode.

``collect_rollouts`` runs a planned list of episodes over a vector env (``crm_gym.make_vec``,
``SAME_STEP`` autoreset). Each env runs one planned episode at a time; when it ends, the env
takes the next planned episode (the autoreset observation when the plan leaves the task to the
env, else a reset of that env alone with the plan's options) or, when none is left, idles: it is
sent a fixed cheap action whose outcome is ignored, and no generation is spent on it.

For a ``TokenPolicy`` (a local model) each trajectory also keeps one token view of the whole
episode for multi-turn training: the first prompt, then every completion (``action_mask`` 1,
``old_logprobs`` from the sampler) and between them the env's new messages, tokenised alone and
masked 0 (``TokenPolicy.encode_continuation``). The next generation starts from exactly this
view (``Observation.prompt_ids``), so the transcript is never re-tokenised and the trainer's
logprobs over ``input_ids`` are those the sampler had (REFERENCE.md section 1).

Example:
    >>> from crm_gym import make_vec
    >>> from agents.baselines import ReplayPolicy
    >>> envs = make_vec("ArcCrmConversation-v1", 2, expose_reference=True)
    >>> trajectories = collect_rollouts(envs, ReplayPolicy(), num_episodes=3, seed=0)
    >>> [round(t.total_return, 6) for t in trajectories]
    [1.0, 1.0, 1.0]
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from gymnasium.vector import AutoresetMode

from agents.policy import Observation, Policy, Sample, SamplingParams, TokenPolicy

IDLE_ACTION = "Done."
"""What an env with no planned episode left is sent (its outcome is ignored)."""


@dataclass(frozen=True)
class Step:
    """One action of an episode: what the policy saw and wrote, and what the env gave back."""

    observation: str
    action: str
    reward: float
    info: dict[str, Any]  # the env's info after the action (its final info when it ended)
    prompt_ids: tuple[int, ...] = ()
    completion_ids: tuple[int, ...] = ()
    logprobs: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Trajectory:
    """One episode, and for token policies its token view (three aligned tuples).

    ``input_ids`` is the first prompt, the completions and the env tokens between them;
    ``action_mask`` is 1 on the completions' tokens; ``old_logprobs`` holds their sampling
    logprobs (0 elsewhere). All three are empty for text policies.
    """

    task_id: str
    steps: tuple[Step, ...]
    total_return: float
    terminated: bool
    truncated: bool  # by the env, or cut by ``collect_rollouts(max_steps=...)``
    arm: str | None = None
    input_ids: tuple[int, ...] = ()
    action_mask: tuple[int, ...] = ()
    old_logprobs: tuple[float, ...] = ()
    env_index: int = 0
    episode: int = 0  # its index in the plan (the order of ``options``)

    @property
    def passed(self) -> bool:
        """Whether every turn the episode scored passed: a conversation, all of its turns."""
        return every_turn_passed(scored_turns(step.info for step in self.steps))


@dataclass
class _Episode:
    """A running episode: its steps so far and its token view."""

    index: int
    env_index: int
    options: dict[str, Any] | None
    observation: str
    info: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    mask: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)

    def policy_input(self) -> Observation:
        return Observation(self.observation, self.info, tuple(self.ids) if self.ids else None)

    def record(self, sample: Sample, reward: float, info: dict[str, Any]) -> None:
        if sample.completion_ids:
            self._take_prompt(sample.prompt_ids)
            self._extend(sample.completion_ids, 1, sample.logprobs)
        lean = {key: value for key, value in info.items() if key != "tools"}
        tokens = (sample.prompt_ids, sample.completion_ids, sample.logprobs)
        self.steps.append(Step(self.observation, sample.text, reward, lean, *tokens))

    def advance(self, observation: str, info: dict[str, Any], continuation: Sequence[int]) -> None:
        self.observation, self.info = observation, info
        self._extend(continuation, 0, None)

    def finish(self, terminated: bool, truncated: bool) -> Trajectory:
        arm = (self.options or {}).get("arm")
        arm = None if arm is None else str(arm)
        task_id = str(self.info.get("task_id", ""))
        total = float(sum(step.reward for step in self.steps))
        view = (tuple(self.ids), tuple(self.mask), tuple(self.logprobs))
        where = (self.env_index, self.index)
        return Trajectory(
            task_id, tuple(self.steps), total, terminated, truncated, arm, *view, *where
        )

    def _take_prompt(self, prompt_ids: Sequence[int]) -> None:
        """Start the view at the first prompt; later prompts must be the view (or its tail)."""
        prompt = list(prompt_ids)
        if not self.ids:
            self._extend(prompt, 0, None)
            return
        cut = len(self.ids) - len(prompt)
        if cut < 0 or self.ids[cut:] != prompt:
            raise ValueError(
                "a TokenPolicy must generate from Observation.prompt_ids (or its last tokens); "
                f"got a prompt of {len(prompt)} tokens for a view of {len(self.ids)}"
            )
        del self.ids[:cut], self.mask[:cut], self.logprobs[:cut]

    def _extend(self, ids: Sequence[int], flag: int, logprobs: Sequence[float] | None) -> None:
        self.ids.extend(ids)
        self.mask.extend([flag] * len(ids))
        self.logprobs.extend(logprobs if logprobs is not None else [0.0] * len(ids))


def collect_rollouts(
    envs: Any,
    policy: Policy,
    *,
    sampling: SamplingParams | None = None,
    max_steps: int | None = None,
    seed: int | None = None,
    num_episodes: int | None = None,
    options: Sequence[dict[str, Any] | None] | None = None,
    first_episode: int = 0,
    episode_seeds: Sequence[int] | None = None,
    on_episode: Callable[[Trajectory], None] | None = None,
) -> list[Trajectory]:
    """Run planned episodes over a vector env and return their trajectories in plan order.

    Args:
        envs: a Gymnasium vector env with ``SAME_STEP`` autoreset (``crm_gym.make_vec``).
        policy: any ``Policy``; a ``TokenPolicy`` also gets token views.
        sampling: sampling parameters for every call; its ``seed`` (else ``seed``) is the base
            of a fresh seed per policy call.
        max_steps: cut an episode after this many actions (marked truncated).
        seed: seeds the envs (episode ``e`` from ``[seed, e]``) and, failing
            ``sampling.seed``, the policy calls.
        num_episodes: how many episodes (default: one per env); the env picks each task.
        options: reset options of each episode (e.g. ``{"task_id": ...}`` or ``{"arm": ...}``),
            one per episode; ``None`` entries leave the task to the env.
        first_episode: the plan's first episode in a larger plan split across processes: env
            seeds count from it, so a data-parallel shard runs what the whole plan would.
        episode_seeds: one seed per planned episode, overriding ``seed``: episode ``e`` resets
            with ``episode_seeds[e]`` and its action ``a`` samples from
            ``derive_seed(episode_seeds[e], a)`` (``SamplingParams.row_seeds``), so an episode
            runs the same whatever else is in the batch (the evaluation harness's rule).
        on_episode: called with each trajectory as soon as its episode ends (progress, logs).
    """
    plan = _plan(envs.num_envs, num_episodes, options)
    mode = envs.metadata.get("autoreset_mode")
    if mode is not None and mode != AutoresetMode.SAME_STEP:
        raise ValueError(
            f"collect_rollouts needs SAME_STEP autoreset (make_vec's default), got {mode}"
        )
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    if episode_seeds is not None and len(episode_seeds) != len(plan):
        raise ValueError(f"{len(episode_seeds)} episode_seeds for {len(plan)} episodes")
    collector = _Collector(
        envs, policy, sampling or SamplingParams(), seed, max_steps, plan, first_episode
    )
    collector.episode_seeds = None if episode_seeds is None else [int(s) for s in episode_seeds]
    collector.on_episode = on_episode
    return collector.run()


def _plan(
    num_envs: int, num_episodes: int | None, options: Sequence[dict[str, Any] | None] | None
) -> list[dict[str, Any] | None]:
    if options is not None:
        if num_episodes is not None and num_episodes != len(options):
            raise ValueError(f"num_episodes={num_episodes} but {len(options)} options were given")
        if any(option is not None and "reset_mask" in option for option in options):
            raise ValueError("options must not set 'reset_mask': collect_rollouts manages resets")
        return [None if option is None else dict(option) for option in options]
    count = num_envs if num_episodes is None else num_episodes
    if count < 0:
        raise ValueError(f"num_episodes must be >= 0, got {count}")
    return [None] * count


def scored_turns(infos: Iterable[dict[str, Any]]) -> list[dict[str, float]]:
    """The ``reward_components`` of the steps that ended a turn (one per turn the env scored)."""
    return [info["reward_components"] for info in infos if "reward_components" in info]


def every_turn_passed(scored: Iterable[Mapping[str, float]]) -> bool:
    """Whether every scored turn passed (its ``passed`` is 1.0), and there was at least one.

    A single-turn episode scores one turn, a conversation one per turn: a conversation whose last
    turn passes after an earlier one failed has not passed. Records of ``crm-gym eval`` carry the
    same components (``TurnRecord.reward_components``), so they use this rule too.
    """
    verdicts = [components.get("passed", 0.0) for components in scored]
    return bool(verdicts) and all(verdict == 1.0 for verdict in verdicts)


def derive_seed(seed: int | None, *keys: int) -> int | None:
    """A 32-bit seed from ``seed`` and ``keys`` (None stays None)."""
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def episode_seed(seed: int, task_id: str, attempt: int) -> int:
    """The seed of attempt ``attempt`` at task ``task_id`` in a run of ``seed`` (32 bits).

    A function of these three alone (sha256 of the task id, not Python's salted ``hash``), so an
    evaluation gives every episode the same seed however it is chunked, batched or resumed.

    Example:
        >>> episode_seed(0, "SKEL-1", 2) != episode_seed(0, "SKEL-1", 1)
        True
    """
    digest = hashlib.sha256(str(task_id).encode("utf-8")).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return int(np.random.SeedSequence([seed, *words, attempt]).generate_state(1)[0])


class _Collector:
    """The rollout loop's state: which episode each env runs, and the finished trajectories."""

    def __init__(
        self,
        envs: Any,
        policy: Policy,
        sampling: SamplingParams,
        seed: int | None,
        max_steps: int | None,
        plan: list[dict[str, Any] | None],
        first_episode: int = 0,
    ):
        self.envs, self.policy, self.sampling = envs, policy, sampling
        self.seed, self.max_steps, self.plan = seed, max_steps, plan
        self.slots: list[_Episode | None] = [None] * envs.num_envs
        self.results: list[Trajectory | None] = [None] * len(plan)
        self.next_episode = 0
        self.tokens = isinstance(policy, TokenPolicy)
        self.first_episode = first_episode  # env seeds count from it (a data-parallel shard)
        self.episode_seeds: list[int] | None = None  # per planned episode, overriding ``seed``
        self.on_episode: Callable[[Trajectory], None] | None = None

    def _reset_seed(self, index: int) -> int | None:
        """The reset seed of planned episode ``index``."""
        if self.episode_seeds is not None:
            return self.episode_seeds[index] if index < len(self.plan) else None
        return derive_seed(self.seed, self.first_episode + index)

    def run(self) -> list[Trajectory]:
        seeds = [self._reset_seed(e) for e in range(self.envs.num_envs)]
        seeded = self.seed is not None or self.episode_seeds is not None
        observations, infos = self.envs.reset(seed=seeds if seeded else None)
        for i in range(self.envs.num_envs):
            self._start(i, observations[i], env_info(infos, i), fresh=True)
        call = 0
        while any(slot is not None for slot in self.slots):
            self._step(call)
            call += 1
        return [trajectory for trajectory in self.results if trajectory is not None]

    def _start(self, i: int, observation: str, info: dict[str, Any], fresh: bool) -> None:
        """Give env ``i`` the next planned episode (``fresh``: it has just been reset)."""
        if self.next_episode >= len(self.plan):
            self.slots[i] = None
            return
        index, options = self.next_episode, self.plan[self.next_episode]
        self.next_episode += 1
        if options is not None or not fresh:
            observation, info = self._reset_one(i, index, options)
        self.slots[i] = _Episode(index, i, options, observation, info)

    def _reset_one(self, i: int, index: int, options: dict[str, Any] | None) -> tuple[str, dict]:
        mask = np.zeros(self.envs.num_envs, dtype=np.bool_)
        mask[i] = True
        seeds: list[int | None] = [None] * self.envs.num_envs
        seeds[i] = self._reset_seed(index)
        observations, infos = self.envs.reset(
            seed=seeds, options={**(options or {}), "reset_mask": mask}
        )
        return observations[i], env_info(infos, i)

    def _step(self, call: int) -> None:
        active = [i for i, slot in enumerate(self.slots) if slot is not None]
        inputs = [self.slots[i].policy_input() for i in active]  # type: ignore[union-attr]
        base = self.sampling.seed if self.sampling.seed is not None else self.seed
        sampling = replace(self.sampling, seed=derive_seed(base, call))
        if self.episode_seeds is not None:
            row_seeds = [self._action_seed(self.slots[i]) for i in active]  # type: ignore[arg-type]
            sampling = replace(sampling, row_seeds=tuple(row_seeds))
        samples = self.policy.act(inputs, n=1, sampling=sampling)
        if len(samples) != len(active) or any(len(row) != 1 for row in samples):
            raise ValueError(
                f"the policy returned {len(samples)} rows for {len(active)} observations"
            )
        actions = [IDLE_ACTION] * self.envs.num_envs
        for i, row in zip(active, samples, strict=True):
            actions[i] = row[0].text
        observations, rewards, terminated, truncated, infos = self.envs.step(actions)
        for i, row in zip(active, samples, strict=True):
            outcome = (float(rewards[i]), bool(terminated[i]), bool(truncated[i]))
            self._after(i, row[0], observations[i], outcome, infos)

    def _action_seed(self, episode: _Episode) -> int:
        """The sampling seed of an episode's next action: its seed and the action's index."""
        assert self.episode_seeds is not None
        return int(derive_seed(self.episode_seeds[episode.index], len(episode.steps)))

    def _after(
        self,
        i: int,
        sample: Sample,
        observation: str,
        outcome: tuple[float, bool, bool],
        infos: dict[str, Any],
    ) -> None:
        """Record env ``i``'s step; continue its episode, or finish it and start the next."""
        episode = self.slots[i]
        assert episode is not None
        reward, terminated, truncated = outcome
        ended = terminated or truncated
        info = env_info(infos, i)
        episode.record(sample, reward, env_info(infos["final_info"], i) if ended else info)
        if not ended and (self.max_steps is None or len(episode.steps) < self.max_steps):
            episode.advance(
                observation, info, self._continuation(episode, sample, observation, info)
            )
            return
        trajectory = episode.finish(terminated, not terminated)
        self.results[episode.index] = trajectory
        if self.on_episode is not None:
            self.on_episode(trajectory)
        self._start(i, observation, info, fresh=ended)

    def _continuation(
        self, episode: _Episode, sample: Sample, observation: str, info: dict[str, Any]
    ) -> list[int]:
        """Token ids of what the env said after ``sample`` (token policies only)."""
        if not (self.tokens and sample.completion_ids):
            return []
        before, after = episode.info.get("messages"), info.get("messages")
        if before is not None and after is not None:
            new = after[len(before) + 1 :]  # +1: the assistant message of this action
        else:
            new = [{"role": "user", "content": observation}]
        return self.policy.encode_continuation(sample.completion_ids, new)  # type: ignore[attr-defined]


def env_info(infos: dict[str, Any], i: int) -> dict[str, Any]:
    """Env ``i``'s own info out of a vector env's stacked infos (numpy scalars as Python ones).

    Gymnasium stacks each key into an array with a ``_key`` mask, recursing into dicts; the
    autoreset's ``final_obs``/``final_info`` are left out (``infos["final_info"]`` holds them).
    """
    own: dict[str, Any] = {}
    for key, value in infos.items():
        if key.startswith("_") or key in ("final_obs", "final_info"):
            continue
        present = infos.get(f"_{key}")
        if present is not None and not present[i]:
            continue
        if isinstance(value, dict):
            own[key] = env_info(value, i)
        else:
            item = value[i]
            own[key] = item.item() if isinstance(item, np.generic) else item
    return own
