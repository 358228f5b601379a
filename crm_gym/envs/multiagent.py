"""A PettingZoo env of a supervised CRM agent: a ``student`` acts, a ``teacher`` approves or guides.

PettingZoo conventions: ``env()`` is the wrapped AEC env, ``raw_env`` the class, ``parallel_env()``
the parallel form. Nothing here is registered with Gymnasium. Needs ``pip install "crm-gym[marl]"``.
"""

from __future__ import annotations

from typing import Any

from gymnasium.spaces import Dict

from crm_gym.envs.base import MAX_ACTION_CHARS, CrmEnvBase
from crm_gym.envs.conversation_env import ConversationEnv
from crm_gym.envs.crm_env import CrmEnv
from crm_gym.envs.readonly import fresh_copy
from crm_gym.envs.spaces import Unicode
from crm_gym.envs.tasks import TaskSpec

try:
    from pettingzoo import AECEnv, ParallelEnv
    from pettingzoo.utils import wrappers
    from pettingzoo.utils.conversions import turn_based_aec_to_parallel
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        'crm_gym.envs.multiagent needs PettingZoo: pip install "crm-gym[marl]"'
    ) from exc

STUDENT = "student"
TEACHER = "teacher"
APPROVE = "APPROVE"


def env(**kwargs: Any) -> AECEnv:
    """The supervision env in PettingZoo's usual wrappers (``raw_env`` takes the arguments).

    Example:
        >>> from crm_gym.data.examples import builtin_path
        >>> aec = env(tasks=str(builtin_path()))
        >>> aec.reset(seed=0)
        >>> aec.agent_selection
        'student'
    """
    aec = raw_env(**kwargs)
    aec = wrappers.AssertOutOfBoundsWrapper(aec)
    return wrappers.OrderEnforcingWrapper(aec)


def parallel_env(**kwargs: Any) -> ParallelEnv:
    """The turn-based parallel form: each step applies the action of the agent whose turn it is.

    Example:
        >>> from crm_gym.data.examples import builtin_path
        >>> par = parallel_env(tasks=str(builtin_path()))
        >>> observations, infos = par.reset(seed=0)
        >>> sorted(observations), "User:" in observations["student"]["text"]
        (['student', 'teacher'], True)
        >>> _, _, _, _, infos = par.step({"student": "Done.", "teacher": "(ignored)"})
        >>> infos["teacher"]["active_agent"]
        'teacher'
        >>> _, _, terminations, _, _ = par.step({"student": "(ignored)", "teacher": "APPROVE"})
        >>> terminations
        {'student': True, 'teacher': True}
    """
    return turn_based_aec_to_parallel(env(**kwargs))


class raw_env(AECEnv[str, dict[str, str], str]):  # noqa: N801 - PettingZoo's naming convention
    r"""A student proposes each action of a CRM task; a teacher approves it or gives guidance.

    ## Description
    The supervision loop of the Atlas design over one single-agent CRM env (``CrmEnv``, or
    ``ConversationEnv`` with ``conversation=True``), which runs the task and scores it. The
    ``student`` proposes a text action (a tool call or its answer). The ``teacher`` then sees the
    proposal and either approves it (the literal ``"APPROVE"`` or an empty string, surrounding
    whitespace ignored), which executes it in the inner env, or answers with any other text: that
    is *guidance*, the proposal is not executed, the student's next observation shows the
    guidance, and the student proposes again. After ``max_interventions`` guidance replies for
    the same inner step, the student's next proposal executes at once, without review.

    Turn order (AEC): student, teacher, student, teacher, ... except that a proposal made with
    the cap reached executes immediately and the turn stays with the student.

    ## Action Space
    ``Unicode(32768)`` for both agents: the student writes actions as the inner env reads them
    (``crm_gym.actions``); the teacher writes ``"APPROVE"``/``""`` or guidance.

    ## Observation Space
    ``Dict({"text": Unicode(max_observation_chars)})`` per agent (a bare ``Text`` space breaks
    PettingZoo's ``api_test``). The student sees the inner env's observations, or the teacher's
    guidance after an intervention; the teacher sees what the student saw, the proposal and how
    many interventions it has left, then what an approved proposal produced. ``infos`` hold the
    inner env's info (``messages``, ``tool_result``, ...) plus ``proposal``, ``guidance`` (this
    step's guidance so far) and ``interventions``.

    ## Rewards
    When a proposal executes, both agents get the inner env's reward. Each intervention costs the
    teacher ``intervention_cost`` at once. So the student is rewarded for the task alone and the
    teacher for the task minus what its supervision cost.

    ## Starting State
    The inner env's reset (same ``seed`` and ``options``, e.g. ``{"task_id": ...}``); the
    student moves first.

    ## Episode End
    Terminations and truncations follow the inner env, for both agents at once.

    ## Arguments
    ``tasks`` and any other keyword of the inner env (``max_steps``, ``reward_config``,
    ``expose_reference``, ``max_observation_chars``, ...); ``conversation`` (False: ``CrmEnv``;
    True: ``ConversationEnv``); ``intervention_cost`` (0.05); ``max_interventions`` (3, per inner
    step); ``render_mode`` (``"ansi"``/``"human"``: the supervision transcript).

    ``parallel_env()`` is PettingZoo's turn-based conversion of this AEC env: every parallel step
    applies the action of the agent whose turn it is (``infos[agent]["active_agent"]`` names the
    next one; the student at reset) and ignores the other's, so the parallel API stays coherent
    (the teacher never judges a proposal it has not seen).

    ## Version History
    - v0: initial version.
    - v1: the inner envs' reward v1 (credit only from the agent's actions, issue #18).

    Example:
        >>> from crm_gym.data.examples import builtin_path
        >>> aec = raw_env(tasks=str(builtin_path()), intervention_cost=0.05)
        >>> aec.reset(seed=0)
        >>> aec.step("All done.")  # the student answers without calling a tool
        >>> aec.step("Look the client up first.")  # the teacher intervenes
        >>> aec.observe("student")["text"]
        'Teacher: Look the client up first.\n(Your proposal was not executed. Propose again.)'
        >>> aec.rewards
        {'student': 0.0, 'teacher': -0.05}
    """

    metadata = {
        "name": "crm_supervision_v1",
        "render_modes": ["ansi", "human"],
        "is_parallelizable": False,
    }

    def __init__(
        self,
        tasks: TaskSpec = None,
        *,
        conversation: bool = False,
        intervention_cost: float = 0.05,
        max_interventions: int = 3,
        render_mode: str | None = None,
        **env_kwargs: Any,
    ):
        if intervention_cost < 0:
            raise ValueError(f"intervention_cost must be >= 0, got {intervention_cost}")
        if max_interventions < 0:
            raise ValueError(f"max_interventions must be >= 0, got {max_interventions}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        inner_class = ConversationEnv if conversation else CrmEnv
        self.inner: CrmEnvBase = inner_class(tasks, **env_kwargs)
        self.intervention_cost = float(intervention_cost)
        self.max_interventions = max_interventions
        self.render_mode = render_mode
        self.possible_agents = [STUDENT, TEACHER]
        limit = self.inner.max_observation_chars
        self._observation_spaces = {a: Dict({"text": Unicode(limit)}) for a in self.possible_agents}
        self._action_spaces = {a: Unicode(MAX_ACTION_CHARS) for a in self.possible_agents}
        self._log: list[str] = []

    def observation_space(self, agent: str) -> Dict:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> Unicode:
        return self._action_spaces[agent]

    # ---- episode ------------------------------------------------------------------------------
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Reset the inner env (same ``seed`` and ``options``); the student moves first."""
        observation, info = self.inner.reset(seed=seed, options=options)
        self.agents = self.possible_agents[:]
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self._inner_info = info
        self._proposal: str | None = None
        self._guidance: list[str] = []
        self._seen = observation
        self._texts = {STUDENT: observation, TEACHER: f"The student's task:\n{observation}"}
        self._log = [f"[user] {observation}"]
        self._update_infos()
        self.agent_selection = STUDENT

    def observe(self, agent: str) -> dict[str, str]:
        return {"text": self._fit(self._texts[agent])}

    def step(self, action: str | None) -> None:
        """The student proposes, or the teacher approves (executes) or guides (costs)."""
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0.0
        self.rewards = dict.fromkeys(self.agents, 0.0)
        if agent == STUDENT:
            self._propose(action)
        elif is_approval(action):
            self._execute()
        else:
            self._intervene(action)
        self._update_infos()
        self._accumulate_rewards()
        self._deads_step_first()

    def _propose(self, action: Any) -> None:
        self._proposal = action if isinstance(action, str) else repr(action)
        self._log.append(f"[student] {self._proposal}")
        if len(self._guidance) >= self.max_interventions:
            self._log.append("[teacher] (no interventions left: executed without review)")
            self._execute()
            return
        left = self.max_interventions - len(self._guidance)
        self._texts[TEACHER] = (
            f"The student saw:\n{self._seen}\n\nThe student proposes:\n{self._proposal}\n\n"
            f'Reply "{APPROVE}" to execute it, or write guidance ({left} interventions left).'
        )
        self._texts[STUDENT] = f"Your proposal is with the teacher:\n{self._proposal}"
        self.agent_selection = TEACHER

    def _execute(self) -> None:
        proposal = self._proposal if self._proposal is not None else ""
        observation, reward, terminated, truncated, info = self.inner.step(proposal)
        if self.agent_selection == TEACHER:
            self._log.append(f"[teacher] {APPROVE}")
        self._log.append(f"[env] {observation}")
        self.rewards = {STUDENT: float(reward), TEACHER: float(reward)}
        self._inner_info = info
        self._guidance = []
        self._seen = observation
        self._texts = {
            STUDENT: observation,
            TEACHER: f"Executed:\n{proposal}\n\nResult:\n{observation}",
        }
        self.terminations = dict.fromkeys(self.agents, bool(terminated))
        self.truncations = dict.fromkeys(self.agents, bool(truncated))
        self.agent_selection = STUDENT

    def _intervene(self, guidance: Any) -> None:
        text = guidance if isinstance(guidance, str) else repr(guidance)
        self._guidance.append(text)
        self._log.append(f"[teacher] {text}")
        self.rewards[TEACHER] = -self.intervention_cost
        self._texts[STUDENT] = f"Teacher: {text}\n(Your proposal was not executed. Propose again.)"
        self._texts[TEACHER] = f"Your guidance was sent to the student:\n{text}"
        self.agent_selection = STUDENT

    def _update_infos(self) -> None:
        """Fresh infos for both agents: the inner info plus the supervision state."""
        extra = {
            "proposal": self._proposal,
            "guidance": list(self._guidance),
            "interventions": len(self._guidance),
        }
        self.infos = {
            agent: {**fresh_copy(self._inner_info), **fresh_copy(extra)} for agent in self.agents
        }

    def _fit(self, text: str) -> str:
        """Cut a text to the observation space's length (the inner env's own limit)."""
        limit = self.inner.max_observation_chars
        if len(text) <= limit:
            return text
        note = "\n[... truncated]"
        return text[: limit - len(note)] + note

    # ---- rendering ----------------------------------------------------------------------------
    def render(self) -> str | None:
        """The supervision transcript (``ansi``: returned; ``human``: printed)."""
        text = "\n".join(self._log)
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        self.inner.close()


def is_approval(verdict: Any) -> bool:
    r"""True for the teacher's approval: ``"APPROVE"`` or an empty string (whitespace ignored).

    Example:
        >>> is_approval(" APPROVE\n"), is_approval(""), is_approval("Check the id first.")
        (True, True, False)
    """
    return isinstance(verdict, str) and verdict.strip() in ("", APPROVE)
