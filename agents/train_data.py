"""What the GRPO loop (``agents.train``) trains on: task families, batches, warm start, evaluation.

A *task family* is a list of generated conversations whose first turn is the task
(``"<conversation_id>#1"`` in ``ArcCrm-v1``), split into training and held-out tasks
(``task_sets``); every family keeps the requests its reference call passes on its own, so the
held-out ceiling is 1.0. ``args`` (the evidence preset ``cpu-args``) needs values copied from the
request and holds out the generator's held-out side (phrasings and names never trained on);
``noarg`` (the quick ``cpu-tiny`` demo) is a choice of tool name alone: an in-distribution
split a tiny model learns on a CPU in a minute.

The supervised warm start replays the reference actions through the model's own tokenisation
(``ReplayTokens``, a ``TokenPolicy``), so its batches have the same token view, masks included,
as the GRPO batches, and cross-entropy falls on the action tokens only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np

from agents.baselines import ReplayPolicy
from agents.logprobs import token_logprobs
from agents.policy import Observation, Sample, SamplingParams
from agents.rollout import Trajectory, collect_rollouts, derive_seed, episode_seed
from crm_gym.crm.tools import tool_schemas
from crm_gym.data.templates import referenced_turns
from crm_gym.envs.tasks import arm_of
from crm_gym.scoring.facts import scalars

if TYPE_CHECKING:
    import torch

NO_ARGUMENT_TOOLS = frozenset(
    schema["function"]["name"]
    for schema in tool_schemas()
    if not schema["function"]["parameters"].get("properties")
)
"""Tools whose call is fully determined by which tool it is: the ``noarg`` family."""


FAMILIES = ("args", "chain", "noarg", "all")
SPLIT_FAMILIES = ("args", "chain")
"""Families whose held-out tasks come from the generator's held-out side (phrasings, names)."""
CHAIN_ENV = {"env_id": "ArcCrmConversation-v1", "max_steps": 2}
"""How a ``chain`` task is played: whole two-turn conversations, a call and a reply per turn."""


def task_sets(name: str, num_conversations: int, num_eval: int, seed: int) -> tuple[list, list]:
    """The (training, held-out) conversations of a task family; their first turns are the tasks.

    Every family keeps the requests that the reference call passes on its own (one action, no
    reply needed), so a held-out ceiling is 1.0. ``args``: requests with arguments, the training
    tasks from ``num_conversations`` conversations of the generator's training side and the
    held-out ones from as many of its held-out side (``crm_gym.generator.holdout``: request
    patterns and entity names never trained on), ``balanced`` across arms. ``noarg``
    (argument-free requests: which tool alone) and ``all`` (every conversation, whole
    conversations too) split one generated set at random: their held-out tasks are
    in-distribution paraphrases. ``chain`` (find, then act on what was found: ``chains``) holds
    out the generator's held-out side as ``args`` does; its tasks are whole two-turn
    conversations.
    """
    from crm_gym.generator import generate

    if name in SPLIT_FAMILIES:
        keep = task_family_filter(name)
        train = keep(generate(num_conversations, seed=seed, holdout="train"))
        held_out = keep(generate(num_conversations, seed=seed, holdout="held_out"))
        return train, balanced(held_out, num_eval, name)
    conversations = list(generate(num_conversations, seed=seed))
    if name == "noarg":
        conversations = passes_with_call(
            c for c in conversations if c.turns[0].expected_tool in NO_ARGUMENT_TOOLS
        )
    elif name != "all":
        raise ValueError(f"task family must be one of {FAMILIES}, got {name!r}")
    return split_tasks(conversations, num_eval, seed)


def task_family_filter(name: str) -> Callable[[Iterable[Any]], list[Any]]:
    """A split family's choice of conversations: ``args`` requests with arguments, ``chain``s."""
    return {"args": _with_arguments, "chain": chains}[name]


def run_data_seed(args: Any) -> int:
    """The seed of a run's tasks, held-out split and held-out sampling (``Args.data_seed``)."""
    return args.seed if args.data_seed is None else args.data_seed


def run_tasks(args: Any) -> tuple[list, list]:
    """A run's (training, held-out) conversations, from its ``Args``."""
    return task_sets(
        args.task_family, args.num_conversations, args.num_eval_tasks, run_data_seed(args)
    )


def eval_seed(args: Any) -> int:
    """The sampling seed of a run's held-out episodes: every evaluation draws the same numbers."""
    return int(derive_seed(run_data_seed(args), 9))


def env_kwargs(args: Any, tasks: list[Any]) -> dict[str, Any]:
    """The env settings of a run's training and evaluation envs (``make_vec`` keywords)."""
    from crm_gym.scoring import RewardConfig

    return {
        "tasks": tasks,
        "expose_reference": True,
        "max_steps": args.max_env_steps,
        "reward_config": RewardConfig(mode=args.reward_mode),
    }


def balanced(conversations: list[Any], num_eval: int, family: str) -> list[Any]:
    """``num_eval`` conversations taken round-robin over their arms (``task_arm``), in order.

    A held-out set balanced across the curriculum's arms: a sampler that favours some arms is
    not scored mostly on those.
    """
    by_arm: dict[str, list[Any]] = {}
    for conversation in conversations:
        by_arm.setdefault(task_arm(family, conversation), []).append(conversation)
    queues = [by_arm[arm] for arm in sorted(by_arm)]
    chosen: list[Any] = []
    for rank in range(max(map(len, queues), default=0)):
        chosen += [queue[rank] for queue in queues if rank < len(queue)]
    if len(chosen) < num_eval:
        raise ValueError(f"num_eval={num_eval} exceeds the {len(chosen)} held-out tasks")
    return chosen[:num_eval]


def _with_arguments(conversations: Iterable[Any]) -> list[Any]:
    return passes_with_call(c for c in conversations if c.turns[0].expected_args)


def chains(conversations: Iterable[Any]) -> list[Any]:
    """Find-then-act tasks: the first two turns of conversations whose second acts on the first.

    Kept when the second turn's reference call takes a value from the first turn's result (a
    ``{{turn_1.field}}`` template: the id of the client just found, the deal just created) and
    the reference actions pass both turns as ``CHAIN_ENV`` plays them (a call, then the reply
    stating what the result holds), so the ceiling is 1.0.
    """
    two_turns = [
        two_turn_prefix(c)
        for c in conversations
        if len(c.turns) > 1 and 1 in referenced_turns(c.turns[1].expected_args)
    ]
    return passes_with_replay(two_turns, **CHAIN_ENV)


def two_turn_prefix(conversation: Any) -> Any:
    """The conversation cut after its second turn (a failure planned later is dropped)."""
    failure = conversation.failure_turn
    kept = failure is not None and failure <= 2
    return conversation.model_copy(
        update={
            "turns": conversation.turns[:2],
            "final_expected_state": {},
            "contains_failure": kept,
            "failure_turn": failure if kept else None,
        }
    )


def warm_start_tasks(family: str, conversations: Iterable[Any]) -> list[Any]:
    """What a warm start replays of other conversations: the family's kind of task.

    ``args``: first requests with arguments; ``chain``: the first two turns of every
    conversation that has two (find-then-act or not: calls, replies and copying from results);
    other families: whole conversations.
    """
    if family == "args":
        return [c for c in conversations if c.turns[0].expected_args]
    if family == "chain":
        return [two_turn_prefix(c) for c in conversations if len(c.turns) > 1]
    return list(conversations)


def passes_with_replay(conversations: list[Any], env_id: str, max_steps: int) -> list[Any]:
    """The conversations whose reference actions (``ReplayPolicy``) pass all turns in ``env_id``."""
    import gymnasium as gym

    from crm_gym.scoring import RewardConfig

    if not conversations:
        return []
    env = gym.make(
        env_id,
        tasks=conversations,
        max_steps=max_steps,
        expose_reference=True,
        reward_config=RewardConfig(mode="binary"),
    )
    policy, kept = ReplayPolicy(), []
    for conversation in conversations:
        observation, info = env.reset(options={"task_id": first_turn(conversation)})
        total, done = 0.0, False
        while not done:
            action = policy.action(Observation(observation, info))
            observation, reward, terminated, truncated, info = env.step(action)
            total, done = total + float(reward), terminated or truncated
        if total >= 1.0 - 1e-9:
            kept.append(conversation)
    env.close()
    return kept


def passes_with_call(conversations: Iterable[Any]) -> list[Any]:
    """The conversations whose first request passes on its reference call alone.

    Checked by running that call in ``ArcCrm-v1`` with one action and the binary reward.
    """
    return passes_with_replay(list(conversations), "ArcCrm-v1", max_steps=1)


CALL_DIFFICULTY = ((2, "easy"), (3, "medium"))
"""A first request's difficulty by the argument values its call must state: <= 2, 3, more."""


def task_arm(family: str, conversation: Any) -> str:
    """The curriculum arm of a task: ``"<skill>-<difficulty>"``.

    For ``args`` the difficulty is the call's (``CALL_DIFFICULTY``: how many values it copies
    from the request), the thing the model does (for ``chain``, the second turn's call); the
    generator's label describes the whole conversation (``crm_gym.envs.tasks.arm_of``), which the
    other families keep.
    """
    if family not in SPLIT_FAMILIES:
        return arm_of(conversation)
    acting_turn = conversation.turns[1 if family == "chain" else 0]
    values = len(scalars(acting_turn.expected_args))
    difficulty = next((name for most, name in CALL_DIFFICULTY if values <= most), "hard")
    return f"{conversation.skill}-{difficulty}"


def split_tasks(conversations: Sequence[Any], num_eval: int, seed: int) -> tuple[list, list]:
    """A seeded split into (training, held-out) conversations; ``num_eval`` go to held-out."""
    if not 0 < num_eval < len(conversations):
        raise ValueError(f"num_eval must be in (0, {len(conversations)}), got {num_eval}")
    order = np.random.default_rng(seed).permutation(len(conversations))
    held_out = {int(i) for i in order[:num_eval]}
    train = [c for i, c in enumerate(conversations) if i not in held_out]
    return train, [c for i, c in enumerate(conversations) if i in held_out]


def first_turn(conversation: Any) -> str:
    """The task id of a conversation's first request."""
    return f"{conversation.conversation_id}#1"


# ---------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------


def pad_batch(trajectories: Sequence[Trajectory], pad_id: int, device: Any) -> dict[str, Any]:
    """Left-padded ``input_ids``, ``attention_mask``, ``action_mask``, ``old_logprobs``, (B, T)."""
    import torch

    width = max(len(t.input_ids) for t in trajectories)
    batch = {
        "input_ids": torch.full((len(trajectories), width), pad_id, dtype=torch.long),
        "attention_mask": torch.zeros((len(trajectories), width), dtype=torch.long),
        "action_mask": torch.zeros((len(trajectories), width), dtype=torch.long),
        "old_logprobs": torch.zeros((len(trajectories), width), dtype=torch.float32),
    }
    for row, t in enumerate(trajectories):
        cut = width - len(t.input_ids)
        batch["input_ids"][row, cut:] = torch.tensor(t.input_ids, dtype=torch.long)
        batch["attention_mask"][row, cut:] = 1
        batch["action_mask"][row, cut:] = torch.tensor(t.action_mask, dtype=torch.long)
        batch["old_logprobs"][row, cut:] = torch.tensor(t.old_logprobs, dtype=torch.float32)
    return {key: value.to(device) for key, value in batch.items()}


# ---------------------------------------------------------------------------------------------
# Supervised warm start
# ---------------------------------------------------------------------------------------------


class ReplayTokens:
    """The reference actions as a ``TokenPolicy`` of a model's tokenizer (teacher forcing).

    Each action is ``ReplayPolicy``'s text, tokenised and closed with the end-of-turn token;
    prompts and continuations are the ``HFPolicy``'s, so the token view is the one GRPO sees.
    """

    def __init__(self, policy: Any):
        self.policy = policy
        self.replay = ReplayPolicy()
        self.end_id = policy.tokenizer.convert_tokens_to_ids("<|im_end|>")

    def act(
        self,
        observations: Sequence[Observation],
        n: int = 1,
        sampling: SamplingParams | None = None,
    ) -> list[list[Sample]]:
        """The reference action of each observation, ``n`` times, with its token ids."""
        return [[self._sample(observation)] * n for observation in observations]

    def encode_continuation(self, completion_ids: Sequence[int], messages: Sequence[dict]) -> list:
        """The policy's continuation tokens (see ``TokenPolicy``)."""
        return self.policy.encode_continuation(completion_ids, messages)

    def _sample(self, observation: Observation) -> Sample:
        text = self.replay.action(observation)
        ids = self.policy.tokenizer(text, add_special_tokens=False)["input_ids"] + [self.end_id]
        prompt = self.policy.prompt_ids(observation)
        return Sample(text, prompt, tuple(ids), (0.0,) * len(ids))


def replay_trajectories(envs: Any, policy: Any, task_ids: Sequence[str], seed: int) -> list:
    """One reference trajectory per task, in the token view of ``policy`` (an ``HFPolicy``)."""
    options = [{"task_id": task_id} for task_id in task_ids]
    return collect_rollouts(envs, ReplayTokens(policy), options=options, seed=seed)


def supervised_step(
    model: Any, optimizer: Any, batch: dict[str, torch.Tensor], max_grad_norm: float
) -> float:
    """One cross-entropy step on the action tokens of a padded replay batch; returns the loss."""
    import torch

    from agents.grpo import check_finite, masked_mean

    logprobs = token_logprobs(
        model, batch["input_ids"], batch["attention_mask"], batch["action_mask"]
    )
    loss = -masked_mean(logprobs, batch["action_mask"])
    check_finite(loss, logprobs=logprobs)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return float(loss.detach())


def warm_start(
    model: Any,
    trajectories: Sequence[Trajectory],
    *,
    steps: int,
    batch_size: int,
    lr: float,
    pad_id: int,
    rng: np.random.Generator,
) -> list[float]:
    """``steps`` supervised steps (AdamW, minibatches drawn by ``rng``); returns the losses."""
    import torch

    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    for _ in range(steps):
        rows = rng.choice(len(trajectories), size=min(batch_size, len(trajectories)), replace=False)
        batch = pad_batch([trajectories[i] for i in rows], pad_id, device)
        losses.append(supervised_step(model, optimizer, batch, max_grad_norm=1.0))
    model.zero_grad(set_to_none=True)  # no warm-start gradient may leak into the first GRPO step
    model.eval()
    return losses


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


def evaluate(
    envs: Any, policy: Any, task_ids: Sequence[str], sampling: SamplingParams, num_samples: int
) -> dict[str, float]:
    """The held-out means of ``evaluate_per_task`` (sampled and greedy)."""
    return evaluate_per_task(envs, policy, task_ids, sampling, num_samples)[0]


def evaluate_per_task(
    envs: Any, policy: Any, task_ids: Sequence[str], sampling: SamplingParams, num_samples: int
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Held-out success, sampled and greedy: the means and each task's success rate.

    Sampled: ``num_samples`` episodes per task at the training temperature (``eval/reward_mean``,
    ``eval/success_rate``); greedy: one episode per task at temperature 0
    (``eval/greedy_reward_mean``, ``eval/greedy_success_rate``). The per-task rates come as
    ``{"sampled": {task: rate}, "greedy": {task: 0.0 or 1.0}}``.

    Sample ``k`` of a task is seeded as ``crm-gym eval`` seeds attempt ``k`` of that task
    (``episode_seed(sampling.seed, task_id, k)``), so ``crm-gym eval --policy RUN_DIR`` draws the
    same random numbers, however it batches them: its greedy episodes repeat these exactly, its
    sampled ones up to a token flipped by batch-dependent float rounding (docs/evaluation.md,
    "Seeds"). Every evaluation draws the same numbers (common random numbers: differences
    between steps are the policy's).
    """
    greedy = SamplingParams(
        temperature=0.0, top_p=1.0, max_new_tokens=sampling.max_new_tokens, seed=sampling.seed
    )
    means: dict[str, float] = {}
    per_task: dict[str, dict[str, float]] = {}
    for name, params, samples, prefix in (
        ("sampled", sampling, num_samples, "eval/"),
        ("greedy", greedy, 1, "eval/greedy_"),
    ):
        returns, passed = _held_out_episodes(envs, policy, task_ids, params, samples)
        means |= {
            f"{prefix}reward_mean": float(returns.mean()),
            f"{prefix}success_rate": float(passed.mean()),
        }
        per_task[name] = dict(zip(task_ids, passed.mean(axis=1).tolist(), strict=True))
    return means, per_task


def _held_out_episodes(
    envs: Any, policy: Any, task_ids: Sequence[str], sampling: SamplingParams, num_samples: int
) -> tuple[np.ndarray, np.ndarray]:
    """Returns and passed flags of ``num_samples`` episodes per task, both ``(tasks, samples)``."""
    options = [{"task_id": task_id} for task_id in task_ids for _ in range(num_samples)]
    seed = 0 if sampling.seed is None else sampling.seed
    seeds = [episode_seed(seed, task_id, k) for task_id in task_ids for k in range(num_samples)]
    trajectories = collect_rollouts(
        envs, policy, sampling=sampling, options=options, episode_seeds=seeds
    )
    shape = (len(task_ids), num_samples)
    returns = np.array([t.total_return for t in trajectories]).reshape(shape)
    passed = np.array([t.passed for t in trajectories], dtype=float)
    passed = passed.reshape(shape)
    return returns, passed
