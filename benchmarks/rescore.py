"""Rescoring another harness's log: its recorded calls replayed on crm-gym's CRM, scored by the env.

Upstream's harness and Atlas record, per turn, the tool call an agent made (the formats:
``benchmarks.foreign_logs``). ``rescore`` plays every recorded attempt in
``ArcCrmConversation-v1`` with a scripted policy, ``LogPolicy``: at the start of each turn it sends
that turn's recorded calls, one per step, then the recorded reply. The env scores each turn
exactly as it scores any agent, and ``benchmarks.outcomes.conversation_record`` turns the episode
into the record ``crm-gym eval`` writes, so a rescored log and an eval log compare in
``crm-gym report``.

- Ids the other run created (a new opportunity's id) differ from ours; the recorded results and
  expected arguments pair them (``IdTranslation``), and later calls and replies are translated.
- A turn with no recorded call is played as an answer without a call (scored as the env scores
  that) and named in ``Rescored.unscorable`` as ``conversation_id/turn_id`` (``#attempt`` after
  the id for a conversation's second record and later).
- Several records of one conversation are its attempts 0, 1, ... in log order.
- Conversations of the log missing from the tasks are skipped and named (``not_in_tasks``), and
  so are tasks the log lacks (``not_in_log``) and recorded turns the conversation lacks
  (``unknown_turns``).

Example:
    >>> from benchmarks.foreign_logs import parse_record
    >>> from crm_gym.generator import generate
    >>> [conversation] = generate(1, 0)
    >>> log = parse_record({"conversation_id": conversation.conversation_id,
    ...                     "per_turn_results": []})
    >>> rescored = rescore([log], [conversation], policy_name="nothing")
    >>> len(rescored.unscorable) == len(conversation.turns)
    True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from agents.policy import Observation, ScriptedPolicy
from agents.rollout import collect_rollouts, episode_seed
from benchmarks.evaluate import ENV_ID
from benchmarks.foreign_logs import IdTranslation, LoggedCall, LoggedConversation, LoggedTurn
from benchmarks.outcomes import conversation_record, zero_usage
from benchmarks.records import ConversationRecord
from crm_gym.actions import to_json
from crm_gym.data.conversation import Conversation

MIN_STEPS = 5
"""The env's default step budget per turn; a turn with more recorded calls gets one more step."""

Pair = tuple[LoggedConversation, Conversation]


# ---- the scripted policy -------------------------------------------------------------------------
@dataclass
class _Script:
    """One running episode: the recorded attempt, its id translation and the calls still due."""

    logged: LoggedConversation
    conversation: Conversation
    ids: IdTranslation = field(default_factory=IdTranslation)
    turn: LoggedTurn | None = None
    pending: list[LoggedCall] = field(default_factory=list)
    sent: LoggedCall | None = None

    def start_turn(self, turn_id: int, reference: Mapping[str, Any] | None) -> None:
        """A user turn began: queue its recorded calls; learn ids from its expected arguments."""
        self.turn = self.logged.turns.get(turn_id)
        self.pending = list(self.turn.calls) if self.turn is not None else []
        self.sent = None
        if self.turn is None or self.turn.expected_arguments is None or reference is None:
            return
        template = next(t.expected_args for t in self.conversation.turns if t.turn_id == turn_id)
        recorded = self.turn.expected_arguments
        self.ids.learn_expected(template, recorded, reference["expected_arguments"])

    def learn(self, tool_result: Mapping[str, Any]) -> None:
        """Pair the ids of the call just made: its recorded result against ours."""
        if self.sent is not None and self.sent.result is not None and tool_result.get("ok"):
            self.ids.learn_result(self.sent.result, json.loads(tool_result["payload"]))

    def next_action(self) -> str:
        """The next recorded call of the turn (ids translated), else the recorded reply."""
        if self.pending:
            self.sent = self.pending.pop(0)
            arguments = self.ids.apply(self.sent.arguments)
            return to_json({"name": self.sent.name, "arguments": arguments})
        reply = self.turn.reply if self.turn is not None else None
        # as {"answer": ...}: a reply that looks like JSON or a <tool> tag stays a reply
        return to_json({"answer": self.ids.apply_text(reply or "")})


class LogPolicy(ScriptedPolicy):
    """A ``Policy`` that replays recorded attempts; one episode per conversation id at a time.

    Needs envs built with ``expose_reference=True`` to learn ids from recorded expected arguments
    (without it, it learns them from recorded results only).
    """

    def __init__(self, plan: Mapping[str, Pair]):
        self.plan = plan
        self._running: dict[str, _Script] = {}

    def action(self, observation: Observation) -> str:
        """The recorded action due now in this observation's episode."""
        info = observation.info
        task_id, messages = info["task_id"], info["messages"]
        if len(messages) == 1:  # a reset: the first user message only
            self._running[task_id] = _Script(*self.plan[task_id])
        script = self._running[task_id]
        last = messages[-1]
        if last["role"] == "user" and "turn_id" in last:  # a request opens the turn
            script.start_turn(info["turn_id"], info.get("reference"))
        elif last["role"] == "tool" and "tool_result" in info:
            script.learn(info["tool_result"])
        return script.next_action()


# ---- the run ------------------------------------------------------------------------------------
@dataclass
class Rescored:
    """The records of a rescored log, and what could not be matched or scored."""

    records: list[ConversationRecord]
    unscorable: list[str]
    """``conversation_id[#attempt]/turn_id`` of every turn without a recorded call."""
    unknown_turns: list[str]
    """Recorded ``turn_id`` s that the conversation lacks (their calls are not replayed)."""
    not_in_tasks: list[str]
    """Conversation ids of the log that no task has (their records are skipped)."""
    not_in_log: list[str]
    """Task conversation ids that the log never mentions."""

    def summary(self) -> dict[str, Any]:
        """Counts and names, as one JSON-ready object."""
        turns = [t for r in self.records for t in r.per_turn_results]
        return {
            "conversations": len(self.records),
            "turns": len(turns),
            "turns_passed": sum(t.success for t in turns),
            "unscorable_turns": len(self.unscorable),
            "unscorable": self.unscorable,
            "unknown_turns": self.unknown_turns,
            "not_in_tasks": self.not_in_tasks,
            "not_in_log": self.not_in_log,
        }


def rescore(
    logged: Sequence[LoggedConversation],
    conversations: Sequence[Conversation],
    *,
    policy_name: str,
    seed: int = 0,
    strict_upstream: bool = False,
    num_envs: int = 8,
) -> Rescored:
    """Replay and score every recorded attempt whose conversation is among ``conversations``.

    Args:
        logged: The log's records (``benchmarks.foreign_logs.read_log``).
        conversations: The tasks the log's conversation ids refer to.
        policy_name: The records' ``policy``.
        seed: The records' ``seed``; attempt ``a`` at task ``t`` resets with
            ``episode_seed(seed, t, a)``, as ``benchmarks.evaluate`` seeds every episode.
        strict_upstream: Upstream's mock CRM exactly (as ``crm-gym replay --strict-upstream``).
        num_envs: Envs stepped in lockstep.
    """
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    tasks = {c.conversation_id: c for c in conversations}
    attempts = plan_attempts(logged, tasks)
    records = []
    for attempt, pairs in enumerate(attempts):
        run = dict(policy=policy_name, attempt=attempt, seed=seed, step=None)
        records += _run_attempt(pairs, run, strict_upstream, num_envs)
    seen = {item.conversation_id for item in logged}
    return Rescored(
        records=records,
        unscorable=[
            name for a, pairs in enumerate(attempts) for p in pairs for name in _no_call(p, a)
        ],
        unknown_turns=[
            name for a, pairs in enumerate(attempts) for p in pairs for name in _unknown(p, a)
        ],
        not_in_tasks=sorted(seen - set(tasks)),
        not_in_log=[c.conversation_id for c in conversations if c.conversation_id not in seen],
    )


def plan_attempts(
    logged: Sequence[LoggedConversation], tasks: Mapping[str, Conversation]
) -> list[list[Pair]]:
    """The recorded attempts grouped by attempt index: a conversation's n-th record is attempt n."""
    attempts: list[list[Pair]] = []
    counts: dict[str, int] = {}
    for item in logged:
        conversation = tasks.get(item.conversation_id)
        if conversation is None:
            continue
        attempt = counts.get(item.conversation_id, 0)
        counts[item.conversation_id] = attempt + 1
        if attempt == len(attempts):
            attempts.append([])
        attempts[attempt].append((item, conversation))
    return attempts


def _run_attempt(
    pairs: list[Pair], run: dict[str, Any], strict_upstream: bool, num_envs: int
) -> list[ConversationRecord]:
    from crm_gym import make_vec

    most_calls = max((len(t.calls) for item, _ in pairs for t in item.turns.values()), default=0)
    envs = make_vec(
        ENV_ID,
        min(num_envs, len(pairs)),
        tasks=[conversation for _, conversation in pairs],
        expose_reference=True,
        strict_upstream=strict_upstream,
        max_steps=max(MIN_STEPS, most_calls + 1),
    )
    ids = [conversation.conversation_id for _, conversation in pairs]
    seeds = [episode_seed(run["seed"], task_id, run["attempt"]) for task_id in ids]
    options = [{"task_id": task_id} for task_id in ids]
    policy = LogPolicy({c.conversation_id: (item, c) for item, c in pairs})
    try:
        trajectories = collect_rollouts(envs, policy, options=options, episode_seeds=seeds)
    finally:
        envs.close()
    return [
        _record(pair, trajectory, {**run, "episode_seed": seed})
        for pair, trajectory, seed in zip(pairs, trajectories, seeds, strict=True)
    ]


def _record(pair: Pair, trajectory: Any, run: dict[str, Any]) -> ConversationRecord:
    """Eval's record of the episode, plus the log's tokens, its source and unscorable turns."""
    logged, conversation = pair
    unscorable = [t.turn_id for t in conversation.turns if not _calls(logged, t.turn_id)]
    extra = {"provider": logged.provider or "unknown", "rescored_from": logged.source}
    usage = {**zero_usage(), **(logged.token_usage or {})}
    record = conversation_record(
        conversation, trajectory, {**run, **extra, "unscorable_turns": unscorable}, usage
    )
    # cost and latency were not recorded: unknown, not zero
    update: dict[str, Any] = {"cost_usd": None, "latency_s": None}
    if logged.token_usage is None:
        update["tokens"] = None
    return record.model_copy(update=update)


def _calls(logged: LoggedConversation, turn_id: int) -> list[LoggedCall]:
    turn = logged.turns.get(turn_id)
    return turn.calls if turn is not None else []


def _name(conversation_id: str, attempt: int, turn_id: int) -> str:
    return f"{conversation_id}{f'#{attempt}' if attempt else ''}/{turn_id}"


def _no_call(pair: Pair, attempt: int) -> list[str]:
    logged, conversation = pair
    return [
        _name(conversation.conversation_id, attempt, turn.turn_id)
        for turn in conversation.turns
        if not _calls(logged, turn.turn_id)
    ]


def _unknown(pair: Pair, attempt: int) -> list[str]:
    logged, conversation = pair
    known = {turn.turn_id for turn in conversation.turns}
    return [
        _name(conversation.conversation_id, attempt, turn_id)
        for turn_id in logged.turns
        if turn_id not in known
    ]
