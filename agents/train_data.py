"""What the GRPO loop (``agents.train``) trains on: task families, batches, warm start, evaluation.

A *task family* is a list of generated conversations whose first turn is the task
(``"<conversation_id>#1"`` in ``ArcCrm-v1``), split into training and held-out tasks by
conversation. ``noarg`` keeps the conversations whose first request is answered by a tool without
arguments (``summarize_counts``, ``list_clients``, ``quote_prefixes``...): the right call follows
from the wording alone, so a tiny model can learn it on a CPU in minutes.

The supervised warm start replays the reference actions through the model's own tokenisation
(``ReplayTokens``, a ``TokenPolicy``), so its batches have the same token view, masks included,
as the GRPO batches, and cross-entropy falls on the action tokens only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from agents.baselines import ReplayPolicy
from agents.logprobs import token_logprobs
from agents.policy import Observation, Sample, SamplingParams
from agents.rollout import Trajectory, collect_rollouts, episode_seed

if TYPE_CHECKING:
    import torch

NO_ARGUMENT_TOOLS = frozenset(
    {"summarize_counts", "list_clients", "quote_prefixes", "list_contracts",
     "list_opportunities", "list_notes", "list_quotes", "list_contacts", "list_documents",
     "list_companies"}
)  # fmt: skip
"""Tools whose call is fully determined by which tool it is: the ``noarg`` family."""


def task_family(name: str, num_conversations: int, seed: int) -> list[Any]:
    """Generated conversations of a family: ``noarg`` or ``all`` (every generated one)."""
    from crm_gym.generator import generate

    conversations = generate(num_conversations, seed=seed)
    if name == "all":
        return list(conversations)
    if name == "noarg":
        return [c for c in conversations if c.turns[0].expected_tool in NO_ARGUMENT_TOOLS]
    raise ValueError(f"task family must be 'noarg' or 'all', got {name!r}")


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

    logprobs = token_logprobs(model, batch["input_ids"], batch["attention_mask"],
                              batch["action_mask"])  # fmt: skip
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
    """``num_samples`` episodes per held-out task: ``eval/reward_mean``, ``eval/success_rate``.

    Sampled at the training temperature with a fixed seed, so evaluations at different steps
    draw the same random numbers (common random numbers: the differences are the policy's).
    """
    return evaluate_per_task(envs, policy, task_ids, sampling, num_samples)[0]


def evaluate_per_task(
    envs: Any, policy: Any, task_ids: Sequence[str], sampling: SamplingParams, num_samples: int
) -> tuple[dict[str, float], dict[str, float]]:
    """``evaluate``'s means and each held-out task's mean reward (task id -> mean return).

    Sample ``k`` of a task is seeded as ``crm-gym eval`` seeds attempt ``k`` of that task
    (``episode_seed(sampling.seed, task_id, k)``), so ``crm-gym eval --policy RUN_DIR`` repeats
    these episodes exactly, however it batches them.
    """
    options = [{"task_id": task_id} for task_id in task_ids for _ in range(num_samples)]
    seed = 0 if sampling.seed is None else sampling.seed
    seeds = [episode_seed(seed, task_id, k) for task_id in task_ids for k in range(num_samples)]
    trajectories = collect_rollouts(envs, policy, sampling=sampling, options=options,
                                    episode_seeds=seeds)  # fmt: skip
    returns = np.array([t.total_return for t in trajectories])
    passed = [
        t.steps[-1].info.get("reward_components", {}).get("passed", 0.0) for t in trajectories
    ]
    per_task: dict[str, list[float]] = {}
    for option, value in zip(options, returns.tolist(), strict=True):
        per_task.setdefault(option["task_id"], []).append(value)
    means = {
        "eval/reward_mean": float(returns.mean()),
        "eval/success_rate": float(np.mean(passed)),
    }
    return means, {task: float(np.mean(values)) for task, values in per_task.items()}
