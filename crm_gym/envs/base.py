"""What both CRM envs share: tasks, the live CRM, text actions, the transcript and scoring."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import gymnasium as gym
from gymnasium.error import ResetNeeded

from crm_gym.actions import ActionError, FinalAnswer, ToolCall, parse_action, to_json
from crm_gym.crm import CrmApi
from crm_gym.crm.canonical import StateCache
from crm_gym.crm.store import Store, make_store
from crm_gym.crm.tools import ToolResult, call_tool, tool_schemas
from crm_gym.data.templates import resolve
from crm_gym.envs.readonly import plain_copy, read_only
from crm_gym.envs.reference import TurnReference, restore
from crm_gym.envs.spaces import Unicode
from crm_gym.envs.tasks import TaskSource, TaskSpec
from crm_gym.scoring.reward import RewardConfig, turn_reward
from crm_gym.scoring.turn import TurnScorer

MAX_ACTION_CHARS = 32_768


@lru_cache(maxsize=1)
def shared_tool_schemas() -> list[dict[str, Any]]:
    """The tool schemas every reset's ``info["tools"]`` holds: one read-only instance."""
    return read_only(tool_schemas())


class CrmEnvBase(gym.Env[str, str]):
    """Shared machinery; subclasses decide what an episode is and what happens after a turn."""

    metadata = {"render_modes": ["ansi", "human"]}

    def __init__(
        self,
        tasks: TaskSpec = None,
        *,
        max_steps: int = 5,
        reward_config: RewardConfig | None = None,
        expose_reference: bool = False,
        strict_upstream: bool = False,
        max_observation_chars: int = 65_536,
        render_mode: str | None = None,
        store: str | Store | None = None,
    ):
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.tasks = (
            tasks if isinstance(tasks, TaskSource) else TaskSource.from_spec(tasks, strict_upstream)
        )
        self.max_steps = max_steps
        self.reward_config = reward_config or RewardConfig()
        self.expose_reference = expose_reference
        self.strict_upstream = strict_upstream
        self.max_observation_chars = max_observation_chars
        self.render_mode = render_mode
        self.observation_space = Unicode(max_observation_chars)
        self.action_space = Unicode(MAX_ACTION_CHARS)
        # None: a fresh memory store per episode; else one store (e.g. SQL) restored per episode
        self._store = None if store is None else make_store(store, strict_upstream=strict_upstream)
        self._owns_store = self._store is not None and self._store is not store
        self.api = CrmApi(self._store, seed=0, strict_upstream=strict_upstream)
        self._scorer: TurnScorer | None = None
        self._state_cache = StateCache()
        self._messages: list[dict[str, Any]] = []
        self._task_id = ""

    # ---- episode plumbing -----------------------------------------------------------------------
    def _begin_turn(self, reference: TurnReference, payloads: dict[int, dict[str, Any]]) -> None:
        turn = reference.turn
        expected = (
            resolve(turn.expected_args, payloads, turn.turn_id)
            if reference.templated
            else turn.expected_args  # read, never changed: no copy needed
        )
        cache = self._state_cache
        self._scorer = TurnScorer(reference, expected, self.strict_upstream, state_cache=cache)

    def _restart_crm(self, reference: TurnReference, known_ids: frozenset[str]) -> None:
        """Put the live CRM where the reference was before ``reference``'s turn.

        ``known_ids``: the ids that the state component will treat as existing before.
        """
        self.api = CrmApi(self._store, seed=0, strict_upstream=self.strict_upstream)
        restore(self.api, reference.before)
        self._scorer = None
        self._state_cache = reference.before.state_cache(self.api.store, known_ids)

    def _say(self, role: str, content: str, **extra: Any) -> str:
        """Add a message (plain content; ``extra`` such as ``turn_id`` or ``name`` beside it)."""
        self._messages.append({"role": role, "content": content, **extra})
        return content

    def _info(self, **extra: Any) -> dict[str, Any]:
        """A fresh info dict of plain values (only the read-only ``tools`` are shared)."""
        messages = list(map(dict, self._messages))  # flat dicts: a shallow copy is whole
        info = {"task_id": self._task_id, "messages": messages, **extra}
        if self.expose_reference and self._scorer is not None:
            info["reference"] = plain_copy(self._scorer.reference_info())
        return info

    def _reset_info(self) -> dict[str, Any]:
        return self._info(tools=shared_tool_schemas())

    def _truncate(self, text: str) -> str:
        limit = self.max_observation_chars
        if len(text) <= limit:
            return text
        note = "\n[... truncated]"
        if limit <= len(note):  # no room for the note: a plain cut stays in the space
            return text[:limit]
        return text[: limit - len(note)] + note

    # ---- one action ---------------------------------------------------------------------------
    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Apply one text action: a tool call, a final answer, or something unreadable.

        Never raises on any text: parsing and ``call_tool`` turn every agent mistake into an
        observation. Both run before the step count and the transcript change, so even an
        unforeseen error in them would leave those as they were (and a failed call writes no
        record).
        """
        if self._scorer is None:
            raise ResetNeeded("call reset() before step(), and again after an episode ends")
        scorer = self._scorer
        parsed = parse_action(action)
        executed = self._execute(parsed) if isinstance(parsed, ToolCall) else None
        scorer.steps += 1
        self._say("assistant", action if isinstance(action, str) else _shown(action))
        if isinstance(parsed, FinalAnswer):
            return self._finish_turn(parsed.text)
        if isinstance(parsed, ActionError):
            scorer.malformed_actions += 1
            observation = self._say("user", f"Action error: {parsed.message}")
            extra: dict[str, Any] = {}
        else:
            assert executed is not None  # every ToolCall was executed above
            outcome, payload = executed
            scorer.record_call(parsed, outcome)
            shown = self._tool_text(parsed, outcome, payload)
            observation = self._say("tool", shown, name=parsed.name)
            extra = {"tool_result": _result_info(outcome, payload)}
        if scorer.steps >= self.max_steps:
            return self._finish_turn(None, observation)
        return self._truncate(observation), 0.0, False, False, self._info(**extra)

    def _execute(self, call: ToolCall) -> tuple[ToolResult, str]:
        """Run the call (a failure writes nothing) and its payload's JSON text."""
        outcome = call_tool(self.api, call.name, call.arguments)
        return outcome, to_json(outcome.payload)

    def _tool_text(self, call: ToolCall, outcome: ToolResult, payload: str) -> str:
        if outcome.ok:
            return f"Tool result ({call.name}): {payload}"
        return f"Tool error ({call.name}): {outcome.error}"

    def _score_turn(
        self, answer: str | None, known_ids: frozenset[str], target: Any
    ) -> tuple[float, dict]:
        assert self._scorer is not None
        evidence = self._scorer.evidence(self.api.store, known_ids, target, answer)
        return turn_reward(evidence, self.reward_config)

    def _finish_turn(
        self, answer: str | None, last_observation: str = ""
    ) -> tuple[str, float, bool, bool, dict[str, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the store this env opened from a spec (a ``Store`` passed in is the caller's).

        After ``close`` a SQL store refuses ``reset`` with ``StoreError``; closing twice is fine.
        """
        if self._owns_store and self._store is not None:
            self._store.close()
        super().close()

    # ---- rendering ----------------------------------------------------------------------------
    def render(self) -> str | None:
        """The transcript so far (``ansi``: returned; ``human``: printed)."""
        text = "\n".join(f"[{m['role']}] {m['content']}" for m in self._messages)
        if self.render_mode == "human":
            print(text)
            return None
        return text


def _result_info(outcome: ToolResult, payload: str) -> dict[str, Any]:
    """``info["tool_result"]``: the same keys and value types after every call.

    Gymnasium's vector envs stack infos key by key and recurse into dicts, so a value that is a
    dict in one env and a list or None in another crashes ``step``, and numbers take the first
    env's dtype. The payload (a record, a list, a summary, or nothing) is therefore its JSON
    text (``json.loads`` gives it back): a plain ``str`` that every env stacks alike, and the
    exact text the observation shows.
    """
    return {"name": outcome.name, "ok": outcome.ok, "payload": payload, "error": outcome.error}


def _shown(action: Any) -> str:
    """The transcript's text of a non-text action: its ``repr``, or its type when that fails.

    ``repr`` raises ``ValueError`` on an int of over 4,300 digits and ``RecursionError`` on a
    deeply nested container; the action is still an error observation, never an exception.
    """
    try:
        return repr(action)
    except (ValueError, RecursionError):
        return f"<{type(action).__name__}>"
