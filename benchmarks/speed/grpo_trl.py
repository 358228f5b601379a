"""TRL's ``GRPOTrainer`` on the batch that ``benchmarks.speed.grpo`` times for our GRPO step.

Called by ``benchmarks.speed.grpo`` in the same process, its steps alternating with ours, when
``trl`` imports (``pip install "crm-gym[trl]"``). What is made equal:

- **model**: the same tiny model weights, loaded fresh from the directory ``agents.tiny``
  built (our steps trained their own copy), fp32 on the CPU (``use_cpu``, no bf16/fp16, no
  vLLM), 1 torch thread;
- **prompts**: for each step the same 4 ``noarg`` training tasks our step draws, rendered as our
  policy renders them (``agents.prompts.build_messages``, compact style, the tiny model's chat
  template with the assistant turn opened; TRL applies the template itself and the token ids
  are checked against ``HFPolicy.prompt_ids``: ``prompts_match``);
- **batch**: 8 completions per prompt (``num_generations``), 32 completions per optimizer step
  as 2 micro-batches of 16 (``per_device_train_batch_size`` 16 x ``gradient_accumulation_steps``
  2, so one generation batch per step), at most 16 new tokens, temperature 1, top-p 1, no top-k;
- **loss and optimizer**: ``dapo``, beta 0 (no reference model), eps 0.2, group-scaled
  advantages, one iteration per batch, AdamW (``adamw_torch``) at the preset's learning rate,
  gradient clipping at 1.0;
- **reward**: each completion steps an ``ArcCrm-v1`` env built like the training envs (the
  training tasks, one action, binary reward): reset to the row's task, step with the text. That
  is the work of our scoring phase (one reset and one step per completion).

What differs and cannot be made equal: TRL samples with ``model.generate`` (ours with
``agents.generation``), so the samples and their lengths differ (hence the per-completion-token
ratio, a rough one: the 450-token prompts dominate the forward); TRL builds its batch through a
``datasets.Dataset``, a sampler and its own padding, and computes the entropy and other metrics
every step (``.item()`` calls); it renders prompts outside ``generation_s`` (ours inside our
generation phase); its step also runs the ``Trainer`` machinery (accelerate, callbacks, the LR
scheduler). Timing: a ``TrainerCallback`` records ``on_step_begin`` to ``on_step_end`` (generation,
reward, both micro-batches' forward+backward, the optimizer step), the median over ``repeats`` steps
after ``warmup`` untimed ones. Our steps run interleaved, one after each TRL step (from
``on_step_end``), so a machine whose load changes slows both alike. The Trainer logs just after
``on_step_end`` and fetches the next step's rows before ``on_step_begin``: that work, outside the
step, is ``between_steps_s``. Within the step, ``generation_s`` is ``_generate_single_turn`` wrapped
(padding, ``generate``, cutting at EOS), ``reward_s`` the reward function, ``rollout_s``
``_generate_and_score_completions`` (tokenisation, generation, reward, advantages: our generation +
scoring) and ``train_side_s`` the step minus the rollout (forward+backward, optimizer, bookkeeping:
our GRPO forward+backward + optimizer).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from typing import Any, Callable

import torch
from transformers import PrinterCallback, TrainerCallback


class StepTimer(TrainerCallback):
    """Wall time of each optimizer step and of the Trainer's work between steps.

    ``after(i)`` runs after step ``i`` is timed (our step ``i``: the two trainers alternate).
    """

    def __init__(self, after: Callable[[int], None]) -> None:
        self.after = after
        self.begins: list[float] = []
        self.steps: list[float] = []
        self.resumes: list[float] = []
        self.threads: set[int] = set()

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Start the clock (the step's rows are already fetched)."""
        self.threads.add(torch.get_num_threads())
        self.begins.append(time.perf_counter())

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Stop it after the optimizer step (before the Trainer logs), then run ``after``."""
        self.steps.append(time.perf_counter() - self.begins[-1])
        self.after(len(self.steps) - 1)
        self.resumes.append(time.perf_counter())

    def between(self) -> list[float]:
        """Seconds from the end of ``after`` to the next step's start: logging, fetching rows."""
        return [b - a for a, b in zip(self.resumes, self.begins[1:], strict=False)]


def prompt_rows(state: dict[str, Any], tasks: list[str]) -> tuple[list[dict[str, Any]], list]:
    """One dataset row per task (chat messages as our policy builds them) and our prompt ids."""
    from agents.policy import Observation
    from agents.prompts import build_messages

    env, policy, rows, ids = reward_env(state), state["policy"], [], []
    for task in tasks:
        text, info = env.reset(options={"task_id": task})
        observation = Observation(text, info)
        messages = build_messages(observation, policy.prompt_style, tool_role=policy.tool_role)
        rows.append({"prompt": messages, "task_id": task})
        ids.append(list(policy.prompt_ids(observation)))
    return rows, ids


def reward_env(state: dict[str, Any]) -> Any:
    """One ``ArcCrm-v1`` env with the training envs' tasks and settings."""
    import gymnasium as gym

    from crm_gym.scoring import RewardConfig

    args = state["args"]
    return gym.make(
        args.env_id,
        tasks=state["train_tasks"],
        expose_reference=True,
        max_steps=args.max_env_steps,
        reward_config=RewardConfig(mode=args.reward_mode),
    )


def env_reward(state: dict[str, Any], seconds: list[float]) -> Callable[..., list[float]]:
    """TRL reward function: the env's reward for one action, as our rollouts score it."""
    env = reward_env(state)

    def crm_env_reward(completions: list, task_id: list[str], **kwargs: Any) -> list[float]:
        tick = time.perf_counter()
        rewards = []
        for completion, task in zip(completions, task_id, strict=True):
            env.reset(options={"task_id": task})
            rewards.append(float(env.step(completion[-1]["content"])[1]))
        seconds.append(time.perf_counter() - tick)
        return rewards

    return crm_env_reward


def grpo_config(state: dict[str, Any], num_steps: int, output_dir: str) -> Any:
    """TRL settings matching the ``cpu-tiny`` preset's step."""
    from trl import GRPOConfig

    args = state["args"]
    completions = args.prompts_per_step * args.group_size  # one generation batch per step
    return GRPOConfig(
        output_dir=output_dir,
        use_cpu=True,
        bf16=False,
        fp16=False,
        use_vllm=False,
        seed=args.seed,
        max_steps=num_steps,
        per_device_train_batch_size=args.micro_batch_size,
        gradient_accumulation_steps=completions // args.micro_batch_size,
        num_generations=args.group_size,
        max_completion_length=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=0,
        loss_type=args.loss_type,
        beta=args.beta,
        epsilon=args.eps_low,
        epsilon_high=args.eps_high,
        scale_rewards=args.scale_rewards,
        num_iterations=args.num_iterations,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        lr_scheduler_type="constant",
        max_grad_norm=args.max_grad_norm,
        optim="adamw_torch",
        shuffle_dataset=False,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
    )


def trainer(
    state: dict[str, Any], tasks: list[str], timer: StepTimer, records: dict[str, list]
) -> Any:
    """A ``GRPOTrainer`` on a fresh copy of the tiny model, its rows in our steps' task order."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOTrainer

    rows, records["our_prompt_ids"] = prompt_rows(state, tasks)
    num_steps = len(tasks) // state["args"].prompts_per_step
    output_dir = tempfile.mkdtemp(prefix="grpo-trl-")
    config = grpo_config(state, num_steps, output_dir)
    model = AutoModelForCausalLM.from_pretrained(state["path"])
    tokenizer = AutoTokenizer.from_pretrained(state["path"])
    reward = env_reward(state, records["reward_s"])
    return GRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=config,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=[timer],
    )


def time_generation(grpo_trainer: Any, records: dict[str, list]) -> None:
    """Record the trainer's generation (seconds, prompt ids, completion lengths) and rollout.

    The rollout (``_generate_and_score_completions``) is everything before the loss: prompt
    tokenisation, generation, reward, advantages, padding; the rest of the step is the two
    micro-batches' forward+backward, the optimizer step and the Trainer's bookkeeping.
    """
    generate = grpo_trainer._generate_single_turn

    def timed(prompt_ids: list, *args: Any, **kwargs: Any) -> Any:
        tick = time.perf_counter()
        completion_ids, logprobs = generate(prompt_ids, *args, **kwargs)
        records["generation_s"].append(time.perf_counter() - tick)
        records["prompt_ids"].extend(list(ids) for ids in prompt_ids)
        lengths = [len(ids) for ids in completion_ids]
        records["completion_tokens"].append(sum(lengths))
        longest = max(len(ids) for ids in prompt_ids) + max(lengths)
        records["padded_tokens"].append(len(prompt_ids) * longest)
        return completion_ids, logprobs

    grpo_trainer._generate_single_turn = timed  # an instance attribute: the trainer calls it
    rollout = grpo_trainer._generate_and_score_completions

    def timed_rollout(*args: Any, **kwargs: Any) -> Any:
        tick = time.perf_counter()
        try:
            return rollout(*args, **kwargs)
        finally:
            records["rollout_s"].append(time.perf_counter() - tick)

    grpo_trainer._generate_and_score_completions = timed_rollout


RECORDS = (
    "generation_s",
    "reward_s",
    "rollout_s",
    "prompt_ids",
    "completion_tokens",
    "padded_tokens",
)


def run(
    state: dict[str, Any],
    tasks_per_step: list[list[str]],
    warmup: int,
    after: Callable[[int], None],
) -> dict[str, Any]:
    """Train TRL's GRPO on these steps' tasks, calling ``after(i)`` after step ``i``.

    Medians of seconds and means of token counts over the steps after ``warmup``.
    """
    records: dict[str, list] = {key: [] for key in RECORDS}
    timer = StepTimer(after)
    grpo_trainer = trainer(state, [t for tasks in tasks_per_step for t in tasks], timer, records)
    time_generation(grpo_trainer, records)
    grpo_trainer.remove_callback(PrinterCallback)  # it still logs every step, without printing
    torch.set_num_threads(state["args"].num_threads or 1)  # the Trainer must not change it
    grpo_trainer.train()
    ours = [ids for ids in records.pop("our_prompt_ids") for _ in range(state["args"].group_size)]
    return summarize(timer, records, warmup) | {"prompts_match": records["prompt_ids"] == ours}


def summarize(timer: StepTimer, records: dict[str, list], warmup: int) -> dict[str, Any]:
    """Median seconds and mean token counts per step, after ``warmup`` steps."""
    import trl

    steps, rollouts = timer.steps[warmup:], records["rollout_s"][warmup:]
    between = timer.between()[warmup:]
    times = {
        key: statistics.median(records[key][warmup:])
        for key in ("generation_s", "reward_s", "rollout_s")
    }
    tokens = {
        key: statistics.mean(records[key][warmup:])
        for key in ("completion_tokens", "padded_tokens")
    }
    return (
        times
        | tokens
        | {
            "step_s": statistics.median(steps),
            "train_side_s": statistics.median(s - r for s, r in zip(steps, rollouts, strict=True)),
            "between_steps_s": statistics.median(between) if between else None,
            "steps_timed": len(steps),
            "torch_threads": sorted(timer.threads),
            "version": trl.__version__,
        }
    )


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """TRL's numbers with their ratios to ours: whole step, per completion token, phases."""
    per_token_ours = ours["step_s"] / ours["completion_tokens_mean"]
    per_token_theirs = theirs["step_s"] / theirs["completion_tokens"]
    our_rollout = ours["generation_s"] + ours["scoring_s"]
    our_train_side = ours["grpo_fwd_bwd_s"] + ours["optimizer_s"]
    return theirs | {
        "ratio_step_trl_vs_ours": theirs["step_s"] / ours["step_s"],
        "ratio_step_per_completion_token_trl_vs_ours": per_token_theirs / per_token_ours,
        "ratio_generation_trl_vs_ours": theirs["generation_s"] / ours["generation_s"],
        "ratio_rollout_trl_vs_ours": theirs["rollout_s"] / our_rollout,
        "ratio_train_side_trl_vs_ours": theirs["train_side_s"] / our_train_side,
    }


def available() -> str | None:
    """None when TRL imports, else why it is skipped."""
    try:
        import trl  # noqa: F401
    except ImportError as error:
        return f"not installed ({error}): pip install 'crm-gym[trl]'"
    return None
