"""``ArcCrmConversation-v1``: a whole multi-turn conversation per episode."""

from __future__ import annotations

from typing import Any, Literal

from crm_gym.data.templates import resolve
from crm_gym.envs.base import CrmEnvBase
from crm_gym.envs.reference import ConversationReference


class ConversationEnv(CrmEnvBase):
    """A whole CRM conversation: the next user request arrives when the agent answers.

    ## Description
    An episode is one conversation. Each user turn may take several tool calls and ends with an
    answer (or its step budget); then the next request arrives, its ``{{turn_N.field}}``
    templates filled from what *this agent* actually did (SPEC-arc.md 3.3), or left raw as
    upstream did with ``utterances="raw"``.

    ## Action Space
    ``Unicode(32768)``: a tool call or the answer, exactly as in ``CrmEnv``.

    ## Observation Space
    ``Unicode(max_observation_chars)``: the new messages as text: ``User: ...`` at reset and after
    each answer, tool results and errors after tool calls. ``info`` as in ``CrmEnv`` (plain JSON
    data; each request's message holds its text and ``turn_id``), plus
    ``turn_id`` (the turn now in progress: after an answer, the next one) and, on the step that
    ends a turn, ``scored_turn_id`` (the turn that ``reward_components`` score).

    ## Rewards
    At the end of each user turn, that turn's ``RewardConfig`` reward (as in ``CrmEnv``: credit
    only from the agent's actions) divided by the number of turns, so the return is the mean
    turn reward (in [-0.5, 1] shaped, [0, 1] binary); the state component compares the CRM with
    the reference run after the same turn, new ids labelled from the seed. 0 on other steps.

    ## Starting State
    The CRM seeded from the conversation's ``initial_entities`` (ids and clock from its episode
    seed).

    ## Episode End
    Terminated after the last turn ends. Never truncated: a turn that uses up ``max_steps``
    actions ends without an answer and the conversation moves on.

    ## Arguments
    As ``CrmEnv``, plus ``utterances``: ``"resolved"`` (default) or ``"raw"``.
    ``reset(options={"task_id": "<conversation_id>"})`` or ``{"arm": ...}`` chooses the task.

    ## Version History
    - v0: initial version.
    - v1: credit only from the agent's actions (issue #18): see ``CrmEnv``'s Rewards.

    Example:
        >>> import gymnasium as gym
        >>> import crm_gym
        >>> env = gym.make("ArcCrmConversation-v1")
        >>> observation, info = env.reset(seed=0)
        >>> observation.startswith("User: ")
        True
    """

    def __init__(
        self, *args: Any, utterances: Literal["resolved", "raw"] = "resolved", **kwargs: Any
    ):
        if utterances not in ("resolved", "raw"):
            raise ValueError(f"utterances must be 'resolved' or 'raw', got {utterances!r}")
        super().__init__(*args, **kwargs)
        self.utterances = utterances

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Start a conversation, chosen by ``options`` or the seed."""
        super().reset(seed=seed)
        index = self.tasks.pick(self.np_random, options)
        self._conversation = self.tasks.reference(index)
        self._task_id = self._conversation.conversation.conversation_id
        self._payloads: dict[int, dict[str, Any]] = {}
        self._turn_index = 0
        self._restart_crm(self._conversation.turns[0], self._conversation.seed_ids)
        self._messages = []
        observation = self._start_turn()
        return self._truncate(observation), self._reset_info()

    def _start_turn(self) -> str:
        turn = self._conversation.turns[self._turn_index]
        self._turn_id = turn.turn.turn_id  # after the last turn: still the last one
        self._begin_turn(turn, self._payloads)
        utterance = turn.turn.user_utterance
        if self.utterances == "resolved":
            utterance = resolve(utterance, self._payloads, turn.turn.turn_id)
        self._say("user", utterance, turn_id=self._turn_id)
        return f"User: {utterance}"

    def _info(self, **extra: Any) -> dict[str, Any]:
        return super()._info(turn_id=self._turn_id, **extra)

    def _finish_turn(
        self, answer: str | None, last_observation: str = ""
    ) -> tuple[str, float, bool, bool, dict[str, Any]]:
        conversation: ConversationReference = self._conversation
        turn = conversation.turns[self._turn_index]
        reward, components = self._score_turn(
            answer, conversation.seed_ids, turn.state_after_episode
        )
        assert self._scorer is not None
        payload = self._scorer.payload_for_templates()
        if payload is not None:
            self._payloads[turn.turn.turn_id] = payload
        reward /= len(conversation.turns)
        self._turn_index += 1
        scored = {"reward_components": components, "scored_turn_id": turn.turn.turn_id}
        if self._turn_index == len(conversation.turns):
            info = self._info(**scored)
            self._scorer = None
            return self._truncate(last_observation), reward, True, False, info
        observation = self._start_turn()
        if last_observation:
            observation = f"{last_observation}\n{observation}"
        info = self._info(**scored)
        return self._truncate(observation), reward, False, False, info
