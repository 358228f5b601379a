"""``make_vec``: vectorised CRM envs with defaults that suit LLM policies."""

from __future__ import annotations

from typing import Any, Literal

import gymnasium as gym
from gymnasium.vector import AutoresetMode

from crm_gym.envs.tasks import TaskSource


def make_vec(
    env_id: str = "ArcCrm-v1",
    num_envs: int = 4,
    *,
    mode: Literal["sync", "async"] = "sync",
    autoreset_mode: AutoresetMode = AutoresetMode.SAME_STEP,
    **env_kwargs: Any,
) -> gym.vector.VectorEnv:
    """A vector of ``num_envs`` CRM envs.

    Defaults differ from Gymnasium's where text and LLMs need it: ``SAME_STEP`` autoreset, so a
    finished env returns its next task's first observation at once (the final observation is in
    ``info["final_obs"]``) and no generation is spent on a step that Gymnasium would ignore; and
    ``shared_memory=False`` for ``"async"``, since shared memory cannot carry strings. Our env
    steps take microseconds, so ``"sync"`` is usually faster than ``"async"``, whose pipes cost
    more than the work (see docs/performance.md). The ``"sync"`` envs share one ``TaskSource``,
    so each task's reference run is built once for all of them, not once per env.

    Example:
        >>> import crm_gym
        >>> envs = make_vec("ArcCrm-v1", num_envs=2)
        >>> observations, infos = envs.reset(seed=0)
        >>> len(observations)
        2
        >>> envs.close()
    """
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    vector_kwargs: dict[str, Any] = {"autoreset_mode": autoreset_mode}
    if mode == "async":
        vector_kwargs["shared_memory"] = False
    elif mode != "sync":
        raise ValueError(f"mode must be 'sync' or 'async', got {mode!r}")
    else:  # one process: the envs can share the tasks and their cached reference runs
        env_kwargs["tasks"] = _shared_tasks(env_kwargs)
    return gym.make_vec(
        env_id, num_envs, vectorization_mode=mode, vector_kwargs=vector_kwargs, **env_kwargs
    )


def _shared_tasks(env_kwargs: dict[str, Any]) -> TaskSource:
    """The ``tasks`` argument as one ``TaskSource`` (a path, a list or None is loaded once)."""
    tasks = env_kwargs.get("tasks")
    if isinstance(tasks, TaskSource):
        return tasks
    return TaskSource.from_spec(tasks, env_kwargs.get("strict_upstream", False))
