"""The evaluation harness: any policy on any task source, k attempts each, one record per attempt.

``evaluate`` runs every conversation of a task list ``attempts`` times through
``ArcCrmConversation-v0`` (``collect_rollouts`` over ``num_envs`` envs in lockstep; an API policy
sends one request per env at once) and appends one ``ConversationRecord`` per attempt to a JSONL
log. A rerun skips the attempts already in the log (same conversation, seed and attempt), so a
killed run resumes, and runs with other seeds can share one log (the report's runs).

The records come from ``benchmarks.outcomes`` (how the env's turn outcome maps onto upstream's
per-turn fields, and the judge's place).

Example:
    >>> from agents.baselines import ReplayPolicy
    >>> from crm_gym.data.generator import generate
    >>> records = evaluate(list(generate(2, 0)), ReplayPolicy(), policy_name="replay",
    ...                    expose_reference=True, progress=False)
    >>> [r.reward_signal for r in records]
    [1.0, 1.0]
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from agents.policy import Observation, Policy, Sample, SamplingParams, TokenPolicy
from agents.rollout import collect_rollouts, derive_seed
from benchmarks.judge import Judge
from benchmarks.outcomes import conversation_record, zero_usage
from benchmarks.records import ConversationRecord
from crm_gym.data.conversation import Conversation

ENV_ID = "ArcCrmConversation-v0"


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


# ---- the run ------------------------------------------------------------------------------------
def completed(path: str | Path, seed: int, step: int | None = None) -> set[tuple[str, int]]:
    """``(conversation_id, attempt)`` of the records of ``seed`` (and ``step``) already in a log."""
    done: set[tuple[str, int]] = set()
    if not Path(path).exists():
        return done
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("seed") == seed and record.get("step") == step:
                done.add((record["conversation_id"], int(record.get("attempt", 0))))
    return done


def plan_chunks(
    conversations: Sequence[Conversation],
    attempts: int,
    done: set[tuple[str, int]],
    chunk_size: int,
) -> Iterator[tuple[int, int, list[Conversation]]]:
    """``(attempt, index of the first conversation, conversations)`` still to run, in chunks."""
    for attempt in range(attempts):
        chunk: list[Conversation] = []
        start = 0
        for index, conversation in enumerate(conversations):
            if (conversation.conversation_id, attempt) in done:
                continue
            if not chunk:
                start = index
            chunk.append(conversation)
            if len(chunk) == chunk_size:
                yield attempt, start, chunk
                chunk = []
        if chunk:
            yield attempt, start, chunk


def evaluate(
    conversations: Sequence[Conversation],
    policy: Policy,
    *,
    policy_name: str,
    attempts: int = 1,
    seed: int = 0,
    num_envs: int = 8,
    output: str | Path | None = None,
    step: int | None = None,
    expose_reference: bool = False,
    sampling: SamplingParams | None = None,
    judge: Judge | None = None,
    chunk_size: int | None = None,
    progress: bool = True,
    provider: str | None = None,
) -> list[ConversationRecord]:
    """Run ``attempts`` attempts at every conversation and return (and append) their records.

    Args:
        conversations: The tasks (conversation ids must be unique).
        policy: Any ``Policy``; it is wrapped to meter tokens, cost and latency.
        policy_name: The records' ``policy``.
        attempts: Attempts per conversation (the trials of pass^k).
        seed: The run's seed (records' ``seed``); attempt ``a`` of the chunk starting at
            conversation ``i`` rolls out with seed ``derive_seed(seed, a, i)``.
        num_envs: Envs stepped in lockstep (an API policy has this many requests in flight).
        output: JSONL log to append to; attempts of ``seed`` already in it are skipped.
        step: Training step of the checkpoint, for the records.
        expose_reference: Build the envs with the reference in ``info`` (``ReplayPolicy``).
        sampling: Sampling of every policy call (default: ``SamplingParams()``).
        judge: The optional LLM judge (``benchmarks.judge.LlmJudge``).
        chunk_size: Episodes per rollout call and per write (default ``4 * num_envs``).
        progress: A tqdm progress bar on stderr when tqdm is installed.
        provider: The records' ``metadata.agent.provider`` (default: guessed from the name).
    """
    from crm_gym import make_vec

    ids = [c.conversation_id for c in conversations]
    if len(set(ids)) != len(ids):
        raise ValueError(
            f"conversation ids repeat: {sorted({i for i in ids if ids.count(i) > 1})[:5]}"
        )
    if attempts < 1 or num_envs < 1:
        raise ValueError(f"attempts and num_envs must be >= 1, got {attempts}, {num_envs}")
    if output is not None:
        drop_partial_line(output)
    done = completed(output, seed, step) if output is not None else set()
    chunks = list(plan_chunks(conversations, attempts, done, chunk_size or 4 * num_envs))
    envs = make_vec(
        ENV_ID,
        min(num_envs, max((len(c) for *_, c in chunks), default=1)),
        tasks=list(conversations),
        expose_reference=expose_reference,
    )
    bar = _progress(sum(len(c) for *_, c in chunks), progress)
    records: list[ConversationRecord] = []
    try:
        for attempt, start, chunk in chunks:
            new = _run_chunk(
                envs,
                policy,
                chunk,
                sampling,
                judge,
                dict(policy=policy_name, attempt=attempt, seed=seed, step=step, provider=provider),
                derive_seed(seed, attempt, start),
            )
            if output is not None:
                _append(output, new)
            records += new
            bar.update(len(new))
    finally:
        bar.close()
        envs.close()
    return records


def _run_chunk(
    envs: Any,
    policy: Policy,
    chunk: list[Conversation],
    sampling: SamplingParams | None,
    judge: Judge | None,
    run: dict[str, Any],
    chunk_seed: int,
) -> list[ConversationRecord]:
    meter = metered(policy)
    options = [{"task_id": c.conversation_id} for c in chunk]
    trajectories = collect_rollouts(
        envs, meter, sampling=sampling, seed=chunk_seed, options=options
    )
    return [
        conversation_record(
            conversation,
            trajectory,
            {**run, "episode_seed": derive_seed(chunk_seed, index)},
            meter.usage.get(conversation.conversation_id),
            judge,
        )
        for index, (conversation, trajectory) in enumerate(zip(chunk, trajectories, strict=True))
    ]


def _append(path: str | Path, records: Sequence[ConversationRecord]) -> None:
    """Append records and flush them (a kill loses at most the chunk being run)."""
    with open(path, "a", encoding="utf-8") as out:
        out.writelines(record.model_dump_json() + "\n" for record in records)
        out.flush()


def drop_partial_line(path: str | Path) -> None:
    """Cut a last line that a kill left without its newline (its attempt is run again)."""
    path = Path(path)
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, unit="conv", desc="eval")
