"""The evaluation harness: any policy on any task source, k attempts each, one record per attempt.

``evaluate`` runs every conversation of a task list ``attempts`` times through
``ArcCrmConversation-v1`` (``collect_rollouts`` over ``num_envs`` envs in lockstep; an API policy
sends one request per env at once) and appends one ``ConversationRecord`` per attempt to a JSONL
log. A log belongs to one run (``benchmarks.eval_log``: policy, task set, attempts, seed, env and
reward settings; refused otherwise, and locked while written); a rerun skips the attempts already
in it, so a killed run resumes.

Every episode is seeded from ``(seed, task, attempt)`` alone (``agents.rollout.episode_seed``: the
env's reset and each action's sampling seed), so it draws the same random numbers however the
attempts are chunked (``num_envs``, ``chunk_size``) and however often the run was killed and
resumed. A local model's logits vary in their last bits with the batch a row shares, which can
flip a sampled token (docs/evaluation.md, "Seeds"); other policies give the same records.

A conversation whose seed entities cannot be loaded is not run: each of its attempts is recorded
failed at turn 1 with verification ``pre_execution_error``, as upstream does, and the run goes on.

The records come from ``benchmarks.outcomes`` (how the env's turn outcome maps onto upstream's
per-turn fields, and the judge's place).

Example:
    >>> from agents.baselines import ReplayPolicy
    >>> from crm_gym.generator import generate
    >>> records = evaluate(list(generate(2, 0)), ReplayPolicy(), policy_name="replay",
    ...                    expose_reference=True, progress=False)
    >>> [r.reward_signal for r in records]
    [1.0, 1.0]
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from agents.policy import Observation, Policy, Sample, SamplingParams, TokenPolicy
from agents.rollout import Trajectory, collect_rollouts, episode_seed
from benchmarks.eval_log import EvalLog, tasks_fingerprint
from benchmarks.judge import Judge
from benchmarks.outcomes import conversation_record, zero_usage
from benchmarks.records import ConversationRecord, TokenUsage, TurnRecord
from crm_gym.data.conversation import Conversation
from crm_gym.envs.tasks import TaskSource
from crm_gym.errors import SeedingError
from crm_gym.scoring import RewardConfig

ENV_ID = "ArcCrmConversation-v1"
TURN_ENV_ID = "ArcCrm-v1"


# ---- usage: tokens, cost and latency per episode ------------------------------------------------
class MeteredPolicy:
    """Wraps a policy and adds each call's tokens, cost and seconds to every episode in the batch.

    Episodes are told apart by ``info["task_id"]``, unique within one ``collect_rollouts`` call
    of the harness (one attempt of distinct conversations). Latency is the wall-clock time of the
    policy calls an episode took part in (env steps take microseconds).
    """

    def __init__(self, policy: Policy):
        self.policy = policy
        self.usage: dict[str, dict[str, float]] = {}

    def act(
        self,
        observations: Sequence[Observation],
        n: int = 1,
        sampling: SamplingParams | None = None,
    ) -> list[list[Sample]]:
        """The wrapped policy's samples; their usage is added to their episodes."""
        start = time.perf_counter()
        samples = self.policy.act(observations, n, sampling)
        seconds = time.perf_counter() - start
        for observation, row in zip(observations, samples, strict=True):
            usage = self.usage.setdefault(str(observation.info.get("task_id", "")), zero_usage())
            usage["latency_s"] += seconds
            for sample in row:
                _add_usage(usage, sample)
        return samples


class MeteredTokenPolicy(MeteredPolicy):
    """``MeteredPolicy`` for a ``TokenPolicy`` (keeps the token view of multi-turn rollouts)."""

    def encode_continuation(
        self, completion_ids: Sequence[int], messages: Sequence[dict]
    ) -> list[int]:
        """The wrapped policy's continuation tokens."""
        return self.policy.encode_continuation(completion_ids, messages)  # type: ignore[attr-defined]


def metered(policy: Policy) -> MeteredPolicy:
    """The right wrapper for ``policy``."""
    return MeteredTokenPolicy(policy) if isinstance(policy, TokenPolicy) else MeteredPolicy(policy)


def _add_usage(usage: dict[str, float], sample: Sample) -> None:
    """API samples report usage; local models' token counts come from their ids."""
    prompt = sample.usage.get("prompt_tokens", len(sample.prompt_ids))
    completion = sample.usage.get("completion_tokens", len(sample.completion_ids))
    usage["prompt_tokens"] += prompt
    usage["completion_tokens"] += completion
    usage["total_tokens"] += sample.usage.get("total_tokens", prompt + completion)
    usage["cost_usd"] += float(sample.usage.get("cost_usd", 0.0))


# ---- the run's settings ------------------------------------------------------------------------
@dataclass(frozen=True)
class EnvSettings:
    """The env every attempt runs in; part of a log's identity.

    ``env_id``: ``ArcCrmConversation-v1`` (an attempt is a whole conversation) or ``ArcCrm-v1``
    (an attempt is the conversation's first turn, task id ``<conversation_id>#1``, as the GRPO
    trainer's held-out evaluation runs it). ``max_steps``: actions per turn (None: the env's).
    ``first_turn_ids``: name every task ``<conversation_id>#1`` in either env, as the trainer
    does (the task id keys the episode seeds).
    """

    env_id: str = ENV_ID
    max_steps: int | None = None
    reward_config: RewardConfig | None = None
    strict_upstream: bool = False
    first_turn_ids: bool = False

    def __post_init__(self) -> None:
        if self.env_id not in (ENV_ID, TURN_ENV_ID):
            raise ValueError(f"env_id must be {ENV_ID!r} or {TURN_ENV_ID!r}, got {self.env_id!r}")

    def identity(self) -> dict[str, Any]:
        """The settings as the log's meta file holds them."""
        reward = asdict(self.reward_config or RewardConfig())
        return {
            "env_id": self.env_id,
            "max_steps": self.max_steps,
            "reward": reward,
            "strict_upstream": self.strict_upstream,
            "first_turn_ids": self.first_turn_ids,
        }

    def task_id(self, conversation: Conversation) -> str:
        """The reset option ``task_id`` of a conversation's attempts (and its seeds' key)."""
        cid = conversation.conversation_id
        return f"{cid}#1" if self.env_id == TURN_ENV_ID or self.first_turn_ids else cid

    def record_id(self, conversation: Conversation) -> str:
        """The records' ``conversation_id``: the turn task's id in ``ArcCrm-v1``."""
        cid = conversation.conversation_id
        return f"{cid}#1" if self.env_id == TURN_ENV_ID else cid

    def make(self, num_envs: int, source: TaskSource, expose_reference: bool) -> Any:
        """The vector env over ``source``."""
        from crm_gym import make_vec

        extra = {} if self.max_steps is None else {"max_steps": self.max_steps}
        return make_vec(
            self.env_id,
            num_envs,
            tasks=source,
            expose_reference=expose_reference,
            reward_config=self.reward_config,
            strict_upstream=self.strict_upstream,
            **extra,
        )


def run_identity(
    conversations: Sequence[Conversation],
    policy_name: str,
    attempts: int,
    seed: int,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """The identity of a run, as ``benchmarks.eval_log.EvalLog`` compares it.

    ``settings``: ``episode_seed_base``, ``env`` (``EnvSettings``), ``sampling``, ``judge`` and
    ``memory``.
    """
    sampling: SamplingParams = settings.get("sampling") or SamplingParams()
    return {
        "policy": policy_name,
        "tasks_sha256": tasks_fingerprint(conversations),
        "num_tasks": len(conversations),
        "attempts": attempts,
        "seed": seed,
        "episode_seed_base": settings.get("episode_seed_base", seed),
        "env": (settings.get("env") or EnvSettings()).identity(),
        "sampling": {
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_new_tokens": sampling.max_new_tokens,
            "stop": list(sampling.stop),
        },
        "judge": settings.get("judge"),
        "memory": settings.get("memory"),
    }


# ---- the run ------------------------------------------------------------------------------------
def plan_chunks(
    conversations: Sequence[Conversation],
    attempts: int,
    done: set[tuple[str, int]],
    chunk_size: int,
) -> Iterator[tuple[int, list[Conversation]]]:
    """``(attempt, conversations)`` still to run, in chunks of at most ``chunk_size``."""
    for attempt in range(attempts):
        todo = [c for c in conversations if (c.conversation_id, attempt) not in done]
        for first in range(0, len(todo), chunk_size):
            yield attempt, todo[first : first + chunk_size]


def evaluate(
    conversations: Sequence[Conversation],
    policy: Policy,
    *,
    policy_name: str,
    attempts: int = 1,
    seed: int = 0,
    num_envs: int = 8,
    output: str | Path | EvalLog | None = None,
    step: int | None = None,
    expose_reference: bool = False,
    sampling: SamplingParams | None = None,
    judge: Judge | None = None,
    chunk_size: int | None = None,
    progress: bool = True,
    provider: str | None = None,
    env: EnvSettings | None = None,
    episode_seed_base: int | None = None,
) -> list[ConversationRecord]:
    """Run ``attempts`` attempts at every conversation and return (and append) their records.

    Args:
        conversations: The tasks (conversation ids must be unique).
        policy: Any ``Policy``; it is wrapped to meter tokens, cost and latency.
        policy_name: The records' ``policy``.
        attempts: Attempts per conversation (the trials of pass^k).
        seed: The run's seed (records' ``seed``).
        num_envs: Envs stepped in lockstep (an API policy has this many requests in flight).
        output: JSONL log (a path, or an ``EvalLog`` the caller opened); attempts already in it
            are skipped, and a log of another run is refused (``EvalLogError``).
        step: Training step of the checkpoint, for the records.
        expose_reference: Build the envs with the reference in ``info`` (``ReplayPolicy``).
        sampling: Sampling of every policy call (default: ``SamplingParams()``); its ``seed`` is
            not used: each action's seed comes from its episode's.
        judge: The optional LLM judge (``benchmarks.judge.LlmJudge``).
        chunk_size: Episodes per rollout call (default ``4 * num_envs``); no effect on the
            draws (a local model's batches, like ``num_envs``, can flip a sampled token).
        progress: A progress bar on stderr, one tick per episode.
        provider: The records' ``metadata.agent.provider`` (default: guessed from the name).
        env: The env and reward settings (default: ``EnvSettings()``).
        episode_seed_base: Attempt ``a`` at task ``t`` is seeded
            ``episode_seed(episode_seed_base, t, a)``; default ``seed``.
    """
    _check_run(conversations, attempts, num_envs)
    env = env or EnvSettings()
    base = seed if episode_seed_base is None else episode_seed_base
    log = output
    if output is not None and not isinstance(output, EvalLog):
        settings = {
            "episode_seed_base": base,
            "env": env,
            "sampling": sampling,
            "judge": judge_name(judge),
        }
        identity = run_identity(conversations, policy_name, attempts, seed, settings)
        log = EvalLog.open(output, identity)
    fields = dict(policy=policy_name, seed=seed, step=step, provider=provider)
    run = _Run(policy, env, sampling, judge, base, fields)
    try:
        sizes = (num_envs, chunk_size or 4 * num_envs)
        return run.all(conversations, attempts, log, sizes, expose_reference, progress)
    finally:
        if log is not output:
            log.close()  # type: ignore[union-attr]


def judge_name(judge: Judge | None) -> str | None:
    """The judge's model for a log's identity (``"custom"`` for a judge without one)."""
    return None if judge is None else str(getattr(judge, "model", "custom"))


def _check_run(conversations: Sequence[Conversation], attempts: int, num_envs: int) -> None:
    ids = [c.conversation_id for c in conversations]
    if len(set(ids)) != len(ids):
        raise ValueError(
            f"conversation ids repeat: {sorted({i for i in ids if ids.count(i) > 1})[:5]}"
        )
    if attempts < 1 or num_envs < 1:
        raise ValueError(f"attempts and num_envs must be >= 1, got {attempts}, {num_envs}")


@dataclass
class _Run:
    """One evaluation's fixed parts; ``all`` runs what the log still lacks."""

    policy: Policy
    env: EnvSettings
    sampling: SamplingParams | None
    judge: Judge | None
    base: int
    fields: dict[str, Any]

    def all(
        self,
        conversations: Sequence[Conversation],
        attempts: int,
        log: EvalLog | None,
        sizes: tuple[int, int],
        expose_reference: bool,
        progress: bool,
    ) -> list[ConversationRecord]:
        """Record the unrunnable conversations, then run the others chunk by chunk."""
        logged = log.done(self.fields["step"]) if log is not None else set()
        ids = {self.env.record_id(c): c.conversation_id for c in conversations}
        done = {(ids[rid], a) for rid, a in logged if rid in ids}
        todo = [
            (c, a)
            for a in range(attempts)
            for c in conversations
            if (c.conversation_id, a) not in done
        ]
        broken = seeding_errors(conversations, self.env.strict_upstream)
        records: list[ConversationRecord] = []
        bar = _progress(len(todo), progress)

        def keep(new: list[ConversationRecord]) -> None:
            if not new:
                return
            if log is not None:
                log.append(new)
            records.extend(new)
            bar.update(len(new))

        try:
            unrunnable = [(c, a) for c, a in todo if c.conversation_id in broken]
            keep([self._unrunnable(c, a, broken[c.conversation_id]) for c, a in unrunnable])
            runnable = [c for c in conversations if c.conversation_id not in broken]
            chunks = list(plan_chunks(runnable, attempts, done, sizes[1]))
            if chunks:
                width = min(sizes[0], max(len(chunk) for _, chunk in chunks))
                source = TaskSource(runnable, self.env.strict_upstream)
                self._chunks(self.env.make(width, source, expose_reference), chunks, keep)
        finally:
            bar.close()
        return records

    def _chunks(
        self,
        envs: Any,
        chunks: list[tuple[int, list[Conversation]]],
        keep: Callable[[list[ConversationRecord]], None],
    ) -> None:
        try:
            for attempt, chunk in chunks:
                self._chunk(envs, attempt, chunk, keep)
        finally:
            envs.close()

    def _seed(self, conversation: Conversation, attempt: int) -> int:
        return episode_seed(self.base, self.env.task_id(conversation), attempt)

    def _chunk(
        self,
        envs: Any,
        attempt: int,
        chunk: list[Conversation],
        keep: Callable[[list[ConversationRecord]], None],
    ) -> None:
        """Run one chunk; each record is kept as soon as its episode ends."""
        meter = metered(self.policy)

        def finished(trajectory: Trajectory) -> None:
            conversation = chunk[trajectory.episode]
            keep([self._record(conversation, attempt, trajectory, meter)])

        collect_rollouts(
            envs,
            meter,
            sampling=self.sampling,
            options=[{"task_id": self.env.task_id(c)} for c in chunk],
            episode_seeds=[self._seed(c, attempt) for c in chunk],
            on_episode=finished,
        )

    def _record(
        self, conversation: Conversation, attempt: int, trajectory: Trajectory, meter: MeteredPolicy
    ) -> ConversationRecord:
        run = {**self.fields, "attempt": attempt, "episode_seed": self._seed(conversation, attempt)}
        usage = meter.usage.get(trajectory.task_id)
        if self.env.env_id == TURN_ENV_ID:  # a turn task: its one turn is the record
            update = {
                "conversation_id": self.env.record_id(conversation),
                "turns": conversation.turns[:1],
            }
            conversation = conversation.model_copy(update=update)
        return conversation_record(conversation, trajectory, run, usage, self.judge)

    def _unrunnable(
        self, conversation: Conversation, attempt: int, message: str
    ) -> ConversationRecord:
        fields = {
            **self.fields,
            "attempt": attempt,
            "episode_seed": self._seed(conversation, attempt),
        }
        record = pre_execution_record(conversation, message, fields)
        return record.model_copy(update={"conversation_id": self.env.record_id(conversation)})


def seeding_errors(conversations: Sequence[Conversation], strict_upstream: bool) -> dict[str, str]:
    """Conversation id -> message, for the conversations whose seed cannot be loaded."""
    from crm_gym.data.replay import new_episode

    broken = {}
    for conversation in conversations:
        try:
            new_episode(conversation, strict_upstream=strict_upstream)
        except SeedingError as exc:
            broken[conversation.conversation_id] = str(exc)
    return broken


def pre_execution_record(
    conversation: Conversation, message: str, run: dict[str, Any]
) -> ConversationRecord:
    """Upstream's record of a conversation that could not start: failed at turn 1.

    ``turns_executed=1`` and one turn with verification ``pre_execution_error`` (SPEC-arc.md
    4.1), the error in ``error_message``; metrics count the attempt as failed.
    """
    run = dict(run)
    provider = run.pop("provider", None) or "unknown"
    first = conversation.turns[0]
    turn = TurnRecord(
        turn_id=1,
        expect_success=first.expect_success,
        tool_success=False,
        response_success=False,
        success=False,
        verification="pre_execution_error",
        error=message,
        user_utterance=first.user_utterance,
        expected_tool=first.expected_tool,
    )
    arm = getattr(conversation, "skill", None) and f"{conversation.skill}-{conversation.difficulty}"
    return ConversationRecord(
        conversation_id=conversation.conversation_id,
        overall_success=False,
        turns_executed=1,
        failed_at_turn=1,
        per_turn_results=[turn],
        reward_signal=0.0,
        error_message=message,
        metadata={
            "verification_mode": conversation.verification_mode,
            "total_turns": 1,
            "agent": {"provider": provider, "model": run["policy"]},
        },
        arm=arm if isinstance(arm, str) else None,
        workflow_category=conversation.workflow_category,
        shaped_return=0.0,
        tokens=TokenUsage(),
        cost_usd=0.0,
        latency_s=0.0,
        **run,
    )


# ---- progress -----------------------------------------------------------------------------------
class _Counter:
    """``eval 12/900`` on stderr, rewritten in place: the bar when tqdm is not installed."""

    def __init__(self, total: int):
        self.total, self.n = total, 0

    def update(self, n: int) -> None:
        self.n += n
        print(f"\reval {self.n}/{self.total}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.n:
            print(file=sys.stderr)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool) -> Any:
    """One tick per episode: tqdm when installed, else a plain counter."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _Counter(total)
    return tqdm(total=total, unit="episode", desc="eval", file=sys.stderr)
