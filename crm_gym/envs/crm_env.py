"""``ArcCrm-v1``: one user request per episode."""

from __future__ import annotations

from typing import Any

from crm_gym.envs.base import CrmEnvBase, to_json
from crm_gym.envs.reference import ConversationReference, TurnReference


class CrmEnv(CrmEnvBase):
    """One turn of a CRM conversation: the agent calls tools, then answers the user.

    ## Description
    A task is one user request of a conversation, with the CRM in the state the conversation's
    earlier turns (their ground truth) left it and those turns shown as context. The agent may
    call CRM tools (38, listed in ``info["tools"]`` at reset) and ends the episode with a plain-text
    answer. Tasks come from generated conversations by default, or any Arc JSONL file or list.

    ## Action Space
    ``Unicode(32768)``: any text. A tool call is JSON ``{"name": ..., "arguments": {...}}``, a
    ``<tool>{...}</tool>`` block, an OpenAI ``tool_calls`` message or a fenced JSON block, after an
    optional ``<think>...</think>``; anything else is the final answer (``crm_gym.actions``).

    ## Observation Space
    ``Unicode(max_observation_chars)``: the new messages as text. At reset: the earlier turns
    (user request, tool call, result) and the current request; after a tool call: its result or
    error; after an unreadable action: what was wrong with it. ``info`` has the structured view,
    all plain JSON data (``json.dumps(info)`` works, and vector envs stack it): ``messages``
    (``role`` and ``content``; the user's request as its bare text with its ``turn_id``, a
    tool's result with its ``name``), ``tool_result`` (after a tool call: ``name``, ``ok``,
    ``error`` and the ``payload`` as JSON text, so that the value has one type in every env of a
    vector env), ``tools`` (at reset), ``reward_components`` (at the end) and, with
    ``expose_reference=True``, the ``reference`` call and reply. Each info's dicts and lists are
    its own copies, except ``tools``: one read-only instance shared by every reset (a ``dict``
    and ``list`` subclass, ``crm_gym.envs.readonly``; an edit raises ``TypeError``, and
    ``copy.deepcopy`` gives an editable copy), since copying its 364 containers costs more than
    a turn.

    ## Rewards
    0 on every step but the last; at the end, the turn's reward from ``RewardConfig``
    (``crm_gym.scoring``, docs/rewards.md). Credit flows only from the agent's actions: shaped
    by default, ``0.04*t + 0.26*a + a*(0.2*x + 0.3*s + 0.2*r)`` for the expected tool called
    (t), the share of its arguments matched (a), the call executing as the turn expects (x), the
    CRM matching the reference run's (s) and the answer's F1 on the reference reply's facts (r;
    x stands in when the reply states none), minus 0.1 per malformed action, 0.05 per step beyond
    one call and one answer and 0.1 for a write that leaves the CRM unlike the reference's,
    capped at 0.5; within [-0.5, 1], exactly 1 for the ground truth, 0 for an answer alone.
    ``mode="binary"`` gives 1 for a passed turn (``crm_gym.scoring.turn_passed``) and 0
    otherwise; ``info["reward_components"]`` holds every part, ``passed`` included.

    ## Starting State
    The CRM seeded from the conversation's ``initial_entities`` with its earlier turns replayed;
    ids and timestamps come from the conversation's episode seed, so a task always starts the same.

    ## Episode End
    Terminated when the agent answers; truncated after ``max_steps`` actions without an answer.

    ## Arguments
    ``tasks`` (path, list of conversations, or None for the default generated set), ``max_steps``
    (5), ``reward_config``, ``expose_reference`` (False), ``strict_upstream`` (False: see README
    "Differences from upstream"), ``max_observation_chars`` (65536), ``render_mode``
    (``"ansi"``/``"human"``). ``reset(options={"task_id": "<conversation_id>#<turn_id>"})`` or
    ``{"arm": "<skill>-<difficulty>"}`` chooses the task; otherwise it is drawn from the seed.

    ## Version History
    - v0: initial version.
    - v1: credit only from the agent's actions (issue #18): the shaped reward above, the
      side-effect penalty, response F1, and one "passed" shared with ``replay`` and the evals.

    Example:
        >>> import gymnasium as gym
        >>> import crm_gym
        >>> env = gym.make("ArcCrm-v1")
        >>> observation, info = env.reset(seed=0)
        >>> observation.startswith(("User:", "Earlier in this conversation"))
        True
    """

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Start a task: one turn of a conversation, chosen by ``options`` or the seed."""
        super().reset(seed=seed)
        index = self.tasks.pick(self.np_random, options)
        reference = self.tasks.reference(index)
        turn_index = self._turn_index(reference, options)
        turn = reference.turns[turn_index]
        self._reference = turn
        self._task_id = f"{reference.conversation.conversation_id}#{turn.turn.turn_id}"
        self._restart_crm(turn, turn.before.known_ids)
        self._begin_turn(turn, turn.before.payloads)
        self._messages = []
        context, request = self._context(reference, turn_index), resolve_utterance(turn)
        observation = f"{context}User: {request}"
        self._say("user", observation if context else request, turn_id=turn.turn.turn_id)
        return self._truncate(observation), self._reset_info()

    def _turn_index(self, reference: ConversationReference, options: dict[str, Any] | None) -> int:
        options = options or {}
        key = options.get("task_id")
        if isinstance(key, str) and "#" in key:
            turn = key.split("#", 1)[1]
        elif options.get("turn_id") is not None:
            turn = str(options["turn_id"])
            key = f"{reference.conversation.conversation_id}#{turn}"
        else:
            return int(self.np_random.integers(len(reference.turns)))
        if not (turn.isascii() and turn.isdigit() and 1 <= int(turn) <= len(reference.turns)):
            raise KeyError(f"unknown task {key!r}")
        return int(turn) - 1

    def _context(self, reference: ConversationReference, turn_index: int) -> str:
        """The earlier turns as context before the current request ("" on a first turn)."""
        if turn_index == 0:
            return ""
        lines = ["Earlier in this conversation:"]
        for earlier in reference.turns[:turn_index]:
            lines.append(f"User: {resolve_utterance(earlier)}")
            lines.append(
                f"Assistant called {earlier.turn.expected_tool} {to_json(earlier.arguments)}"
            )
            if earlier.error is None:
                lines.append(f"Tool result: {to_json(earlier.payload)}")
            else:
                lines.append(f"Tool error: {earlier.error}")
        return "\n".join(lines) + "\n\n"

    def _finish_turn(
        self, answer: str | None, last_observation: str = ""
    ) -> tuple[str, float, bool, bool, dict[str, Any]]:
        turn = self._reference
        reward, components = self._score_turn(answer, turn.before.known_ids, turn.state_after_turn)
        info = self._info(reward_components=components)
        self._scorer = None
        return self._truncate(last_observation), reward, answer is not None, answer is None, info


def resolve_utterance(turn: TurnReference) -> str:
    """The turn's request with its templates filled from the reference run."""
    from crm_gym.data.templates import resolve

    return resolve(turn.turn.user_utterance, turn.before.payloads, turn.turn.turn_id)
