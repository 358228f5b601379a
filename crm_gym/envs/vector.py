"""``make_vec``: vectorised CRM envs with defaults that suit LLM policies."""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

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

    Gymnasium stacks dict infos key by key, each key's numbers in the first env's dtype: the
    reference's ``expected_arguments`` (an int probability in one env, 62.5 in the next) would
    come out truncated. These vector envs keep each env's ``info["reference"]`` whole (an object
    array of plain dicts, with its ``_reference`` mask); every other key stacks as Gymnasium's.

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
    env_fns = [partial(gym.make, env_id, **env_kwargs)] * num_envs
    vector = WholeReferenceSyncVectorEnv if mode == "sync" else WholeReferenceAsyncVectorEnv
    return vector(env_fns, **vector_kwargs)


class _WholeReference:
    """Stacks ``info["reference"]`` as one plain dict per env instead of key by key."""

    def _add_info(
        self, vector_infos: dict[str, Any], env_info: dict[str, Any], env_num: int
    ) -> dict[str, Any]:
        if WHOLE_KEY not in env_info:
            return super()._add_info(vector_infos, env_info, env_num)  # type: ignore[misc]
        rest = {key: value for key, value in env_info.items() if key != WHOLE_KEY}
        vector_infos = super()._add_info(vector_infos, rest, env_num)  # type: ignore[misc]
        num_envs = self.num_envs  # type: ignore[attr-defined]
        array = vector_infos.get(WHOLE_KEY, np.full(num_envs, fill_value=None, dtype=object))
        mask = vector_infos.get(f"_{WHOLE_KEY}", np.zeros(num_envs, dtype=np.bool_))
        array[env_num], mask[env_num] = env_info[WHOLE_KEY], True
        vector_infos[WHOLE_KEY], vector_infos[f"_{WHOLE_KEY}"] = array, mask
        return vector_infos


WHOLE_KEY = "reference"


class WholeReferenceSyncVectorEnv(_WholeReference, SyncVectorEnv):
    """``SyncVectorEnv`` that keeps each env's ``info["reference"]`` whole."""


class WholeReferenceAsyncVectorEnv(_WholeReference, AsyncVectorEnv):
    """``AsyncVectorEnv`` that keeps each env's ``info["reference"]`` whole."""


def _shared_tasks(env_kwargs: dict[str, Any]) -> TaskSource:
    """The ``tasks`` argument as one ``TaskSource`` (a path, a list or None is loaded once)."""
    tasks = env_kwargs.get("tasks")
    if isinstance(tasks, TaskSource):
        return tasks
    return TaskSource.from_spec(tasks, env_kwargs.get("strict_upstream", False))
